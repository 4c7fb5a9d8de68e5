"""Tiny random-weight models of every family the presets cover, built offline in seconds.

Each builder trains a real tokenizer of the family's kind on the bundled sample text, adds the
family's language tokens the way the released checkpoints have them, builds the model class
from a tiny config, and saves both with ``save_pretrained``: tests then load them through the
real ``AutoTokenizer`` / ``AutoModel*`` path, exactly as a hub checkout would load.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.devtools.tiny_models import sample_corpus_lines, train_sentencepiece

# A ChatML template, as Qwen's: system/user/assistant turns closed by <|im_end|>.
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

_SMALL = {"d_model": 32, "layers": 2, "heads": 4, "ffn": 64}


def _unigram_pieces(lines: Sequence[str], vocab_size: int, seed: int) -> list[tuple[str, float]]:
    """(piece, score) for a SentencePiece unigram model, without its special pieces."""
    import sentencepiece as spm

    proc = spm.SentencePieceProcessor(
        model_proto=train_sentencepiece(lines, vocab_size=vocab_size, seed=seed)
    )
    return [
        (proc.id_to_piece(i), proc.get_score(i))
        for i in range(proc.get_piece_size())
        if not (proc.is_unknown(i) or proc.is_control(i))
    ]


def _bpe(lines: Sequence[str], vocab_size: int, specials: Sequence[str]) -> tuple[dict, list]:
    """A Metaspace BPE (vocab, merges as tuples) with ``specials`` at the first ids."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    alphabet = sorted({"\n", *(ch for line in lines for ch in line)})
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(specials),
        initial_alphabet=alphabet,
        show_progress=False,
    )
    tok.train_from_iterator(lines, trainer)
    model = json.loads(tok.to_str())["model"]
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model["merges"]]
    return model["vocab"], merges


def _seq2seq_dims(config_cls: Any, **kwargs: Any) -> Any:
    return config_cls(
        d_model=_SMALL["d_model"],
        encoder_layers=_SMALL["layers"],
        decoder_layers=_SMALL["layers"],
        encoder_attention_heads=_SMALL["heads"],
        decoder_attention_heads=_SMALL["heads"],
        encoder_ffn_dim=_SMALL["ffn"],
        decoder_ffn_dim=_SMALL["ffn"],
        max_position_embeddings=256,
        init_std=0.5,
        **kwargs,
    )


def _save(model: Any, tokenizer: Any, dest: Path, seed: int) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    model.eval()
    model.save_pretrained(dest)
    tokenizer.save_pretrained(dest)
    return dest


def build_tiny_nllb(dest: Path, *, seed: int = 0) -> Path:
    """NLLB-200 layout: ``NllbTokenizer`` (BPE + 202 FLORES codes) and an M2M100 model."""
    import torch
    from transformers import M2M100Config, M2M100ForConditionalGeneration, NllbTokenizer

    vocab, merges = _bpe(sample_corpus_lines(), 400, ["<s>", "<pad>", "</s>", "<unk>"])
    tok = NllbTokenizer(vocab=vocab, merges=merges, src_lang="eng_Latn")
    config = _seq2seq_dims(
        M2M100Config,
        vocab_size=len(tok),
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        decoder_start_token_id=2,
    )
    torch.manual_seed(seed)
    model = M2M100ForConditionalGeneration(config)
    # NLLB's own generation config caps max_length at 200; keep that trap in the tiny copy.
    model.generation_config.max_length = 200
    return _save(model, tok, Path(dest), seed)


def build_tiny_m2m100(dest: Path, *, seed: int = 0) -> Path:
    """M2M100 layout: ``M2M100Tokenizer`` (vocab.json + SentencePiece) and its model."""
    import torch
    from transformers import M2M100Config, M2M100ForConditionalGeneration, M2M100Tokenizer

    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    spm_bytes = train_sentencepiece(sample_corpus_lines(), vocab_size=400, seed=seed)
    (dest / "sentencepiece.bpe.model").write_bytes(spm_bytes)
    pieces = [p for p, _ in _unigram_pieces(sample_corpus_lines(), 400, seed)]
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for piece in pieces:
        vocab.setdefault(piece, len(vocab))
    (dest / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), "utf-8")
    tok = M2M100Tokenizer(str(dest / "vocab.json"), str(dest / "sentencepiece.bpe.model"))
    # len(tok) leaves out the 100 language tokens and 8 filler words (STACK-NOTES).
    size = len(tok.encoder) + len(tok.lang_token_to_id) + tok.num_madeup_words
    config = _seq2seq_dims(
        M2M100Config,
        vocab_size=size,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        decoder_start_token_id=2,
    )
    torch.manual_seed(seed)
    return _save(M2M100ForConditionalGeneration(config), tok, dest, seed)


def build_tiny_mbart50(dest: Path, *, seed: int = 0, decoder_start: str | None = None) -> Path:
    """mBART-50 layout: ``MBart50Tokenizer`` (unigram + 52 language codes), ``MBartForCG``.

    ``decoder_start`` (e.g. ``"vi_VN"``) sets the config's decoder start token, as VinAI's
    en2vi checkpoints expect; mBART-50 itself starts with ``</s>``.
    """
    import torch
    from transformers import MBart50Tokenizer, MBartConfig, MBartForConditionalGeneration

    pieces = _unigram_pieces(sample_corpus_lines(), 400, seed)
    # The tokenizer expects SentencePiece order (<unk>, <s>, </s>, pieces...) and reorders it.
    tok = MBart50Tokenizer(
        vocab=[("<unk>", 0.0), ("<s>", 0.0), ("</s>", 0.0), *pieces],
        src_lang="en_XX",
        bos_token="<s>",
    )
    start = tok.convert_tokens_to_ids(decoder_start) if decoder_start else 2
    config = _seq2seq_dims(
        MBartConfig,
        vocab_size=len(tok),
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        decoder_start_token_id=start,
        scale_embedding=True,
        tokenizer_class="MBart50Tokenizer",
        # As in the released mBART-50 config.json (CTranslate2's converter reads them).
        normalize_before=True,
        normalize_embedding=True,
    )
    torch.manual_seed(seed)
    return _save(MBartForConditionalGeneration(config), tok, Path(dest), seed)


def build_tiny_t5(dest: Path, *, seed: int = 0, madlad: bool = False) -> Path:
    """T5 layout (envit5) or, with ``madlad``, MADLAD-400's (``<2xx>`` target tokens)."""
    import torch
    from transformers import T5Config, T5ForConditionalGeneration, T5Tokenizer

    pieces = _unigram_pieces(sample_corpus_lines(), 400, seed)
    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), *pieces]
    extra = ["<2vi>", "<2en>", "<2fr>"] if madlad else None
    tok = T5Tokenizer(vocab=vocab, extra_ids=4, additional_special_tokens=extra)
    config = T5Config(
        vocab_size=len(tok),
        d_model=_SMALL["d_model"],
        d_kv=8,
        d_ff=_SMALL["ffn"],
        num_layers=_SMALL["layers"],
        num_heads=_SMALL["heads"],
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
        initializer_factor=5.0,
    )
    torch.manual_seed(seed)
    return _save(T5ForConditionalGeneration(config), tok, Path(dest), seed)


def build_tiny_llama(dest: Path, *, seed: int = 0) -> Path:
    """A decoder-only Llama with a BPE tokenizer and a ChatML chat template (Qwen-style)."""
    import torch
    from transformers import (
        GenerationConfig,
        LlamaConfig,
        LlamaForCausalLM,
        PreTrainedTokenizerFast,
    )

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<unk>"]
    vocab, merges = _bpe([*sample_corpus_lines(), "system user assistant"], 500, specials)
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    backend = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first")
    backend.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="first")
    tok = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token="<unk>",
        additional_special_tokens=["<|im_start|>"],
        padding_side="left",
    )
    tok.chat_template = CHATML_TEMPLATE
    eot, pad = tok.convert_tokens_to_ids("<|im_end|>"), tok.convert_tokens_to_ids("<|endoftext|>")
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        bos_token_id=None,
        eos_token_id=[eot, pad],
        pad_token_id=pad,
        initializer_range=0.5,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    # Chat checkpoints ship sampling defaults; the translator must override them.
    model.generation_config = GenerationConfig(
        eos_token_id=[eot, pad], pad_token_id=pad, do_sample=True, temperature=0.7, top_p=0.8
    )
    return _save(model, tok, Path(dest), seed)

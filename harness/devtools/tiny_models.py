"""Tiny Marian (OPUS-MT layout) models with random weights, built offline in a few seconds.

The folder a builder writes has the same files a real ``Helsinki-NLP/opus-mt-*`` checkout has
(``source.spm``, ``target.spm``, ``vocab.json``, config, weights), so the real
``from_pretrained`` path and the CTranslate2 converter run on it unchanged.
"""

from __future__ import annotations

import io
import json
import shutil
import tempfile
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

# Vietnamese vowels and the five tone marks (grave, acute, hook above, tilde, dot below): the
# tokenizer must see every combination, or words like "thuỷ" turn into <unk> (STACK-NOTES).
_VI_VOWELS = "aăâeêioôơuưy"
_VI_TONES = ("\u0300", "\u0301", "\u0309", "\u0303", "\u0323")


@dataclass(frozen=True)
class MarianSize:
    """Architecture of a built Marian model; the defaults give about 0.2 M parameters."""

    d_model: int = 64
    layers: int = 2
    heads: int = 4
    ffn_dim: int = 128
    vocab_size: int = 600  # SentencePiece target; the small corpus may yield fewer pieces
    max_positions: int = 512
    # Wider than transformers' 0.02 so that different inputs give different outputs (at 0.02
    # every input decodes to the same repeated token, which hides ordering bugs).
    init_std: float = 0.5
    # Pad the vocabulary with filler pieces up to vocab_size, so the output layer costs what a
    # real OPUS-MT model's does (a small training corpus yields far fewer pieces).
    fill_vocab: bool = False


# The architecture of Helsinki-NLP/opus-mt-en-vi (its vocabulary has 53,685 entries).
OPUS_MT_SIZE = MarianSize(
    d_model=512,
    layers=6,
    heads=8,
    ffn_dim=2048,
    vocab_size=53_000,
    max_positions=512,
    init_std=0.02,
    fill_vocab=True,
)


def vietnamese_charset_lines() -> list[str]:
    """Lines holding every Vietnamese vowel in both cases with each tone, plus đ/Đ (NFC)."""
    lines = []
    for vowel in _VI_VOWELS:
        forms = [unicodedata.normalize("NFC", vowel + tone) for tone in ("", *_VI_TONES)]
        lines.append(" ".join(forms + [f.upper() for f in forms]))
    lines.append("đ Đ đường Đà")
    return lines


def sample_corpus_lines() -> list[str]:
    """The bundled EN-VI sample text, one non-empty line each, plus the Vietnamese charset."""
    text = resources.files("harness.data").joinpath("sample/itu-wtisd-2021.en-vi.txt")
    lines = [ln.strip() for ln in text.read_text(encoding="utf-8").splitlines() if ln.strip()]
    return lines + vietnamese_charset_lines()


def train_sentencepiece(
    lines: Iterable[str], *, vocab_size: int, seed: int = 0, model_type: str = "unigram"
) -> bytes:
    """Train a SentencePiece model with Marian's special ids (eos 0, unk 1, no bos/pad).

    ``hard_vocab_limit=False`` because a small corpus cannot fill a fixed vocabulary.
    """
    import sentencepiece as spm

    spm.set_random_generator_seed(seed)
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(list(lines)),
        model_writer=buf,
        vocab_size=vocab_size,
        model_type=model_type,
        character_coverage=1.0,
        hard_vocab_limit=False,
        unk_id=1,
        eos_id=0,
        bos_id=-1,
        pad_id=-1,
        num_threads=1,  # deterministic output for a given seed
        minloglevel=2,
    )
    return buf.getvalue()


def _spm_piece_count(spm_bytes: bytes) -> int:
    import sentencepiece as spm

    return spm.SentencePieceProcessor(model_proto=spm_bytes).get_piece_size()


def _write_marian_tokenizer(
    dest: Path, spm_bytes: bytes, extra_tokens: Sequence[str]
) -> dict[str, int]:
    """Write source/target.spm and vocab.json; ``<pad>`` takes the last id, as in OPUS-MT."""
    import sentencepiece as spm

    (dest / "source.spm").write_bytes(spm_bytes)
    (dest / "target.spm").write_bytes(spm_bytes)
    proc = spm.SentencePieceProcessor(model_proto=spm_bytes)
    vocab = {proc.id_to_piece(i): i for i in range(proc.get_piece_size())}
    for token in [*extra_tokens, "<pad>"]:
        vocab[token] = len(vocab)
    (dest / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False, indent=1), "utf-8")
    (dest / "tokenizer_config.json").write_text(
        json.dumps({"tokenizer_class": "MarianTokenizer", "model_max_length": 512}), "utf-8"
    )
    return vocab


def build_tiny_marian(
    dest: Path,
    *,
    seed: int = 0,
    size: MarianSize | None = None,
    extra_tokens: Sequence[str] = (),
    corpus: Sequence[str] | None = None,
) -> Path:
    """Build and save a random-weight ``MarianMTModel`` + ``MarianTokenizer`` under ``dest``.

    ``extra_tokens`` are added to the vocabulary before ``<pad>`` (e.g. ``>>vie<<`` for a
    multi-target OPUS-MT model). The decoder-start (``<pad>``) embedding row is zeroed because
    CTranslate2's Marian converter assumes it is zero; otherwise CT2 drops the first output word.
    Returns ``dest``.
    """
    import torch
    from transformers import GenerationConfig, MarianConfig, MarianMTModel, MarianTokenizer

    size = size or MarianSize()
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    lines = list(corpus) if corpus is not None else sample_corpus_lines()
    spm_bytes = train_sentencepiece(lines, vocab_size=size.vocab_size, seed=seed)
    extra = list(extra_tokens)
    if size.fill_vocab:
        pieces = _spm_piece_count(spm_bytes)
        extra += [f"▁filler{i}" for i in range(max(0, size.vocab_size - pieces - len(extra) - 1))]
    vocab = _write_marian_tokenizer(dest, spm_bytes, extra)
    pad_id = vocab["<pad>"]
    config = MarianConfig(
        vocab_size=len(vocab),
        d_model=size.d_model,
        encoder_layers=size.layers,
        decoder_layers=size.layers,
        encoder_attention_heads=size.heads,
        decoder_attention_heads=size.heads,
        encoder_ffn_dim=size.ffn_dim,
        decoder_ffn_dim=size.ffn_dim,
        max_position_embeddings=size.max_positions,
        eos_token_id=0,
        forced_eos_token_id=0,
        pad_token_id=pad_id,
        decoder_start_token_id=pad_id,
        share_encoder_decoder_embeddings=True,
        init_std=size.init_std,
        # As in the opus-mt configs, so the CTranslate2 converter takes the same code path.
        scale_embedding=True,
        activation_function="swish",
    )
    torch.manual_seed(seed)
    model = MarianMTModel(config).eval()
    with torch.no_grad():
        model.get_input_embeddings().weight[pad_id].zero_()
    model.generation_config = GenerationConfig(
        bos_token_id=None,
        eos_token_id=0,
        pad_token_id=pad_id,
        decoder_start_token_id=pad_id,
        forced_eos_token_id=0,
        bad_words_ids=[[pad_id]],
        num_beams=1,
    )
    model.save_pretrained(dest)
    # Reload through the real class so the saved files are proven loadable before returning.
    MarianTokenizer.from_pretrained(dest)
    return dest


def build_once(root: Path, name: str, build: Callable[[Path], Path]) -> Path:
    """Build a model into ``root/name`` unless an earlier call already did; return the folder.

    Test modules share tiny models through this (one build per test session): the build goes
    to a temporary sibling folder that is renamed into place only when complete.
    """
    dest = Path(root) / name
    if (dest / "config.json").is_file():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=dest.parent))
    try:
        build(tmp)
        tmp.rename(dest)
    except OSError:
        if not (dest / "config.json").is_file():  # another worker won the race otherwise
            raise
        shutil.rmtree(tmp, ignore_errors=True)
    return dest

"""Build tiny COMET checkpoints with COMET's own classes and score fixed triples with COMET.

Run with the REFERENCE environment's python (unbabel-comet 2.2.7 in its own venv; it cannot be
installed beside the harness's pins), from the repository root:

    /work/venvs/comet/bin/python scripts/make_comet_goldens.py --out tests/fixtures/neural

The reference venv: ``python3 -m venv /work/venvs/comet; pip install torch==2.13.0;
pip install unbabel-comet==2.2.7 'setuptools<81'``.

It writes, under ``--out``:
  comet-tiny/, cometkiwi-tiny/, xcomet-tiny/   hub layout: hparams.yaml, checkpoints/model.ckpt,
                                               encoder/ (config.json + tokenizer files)
  inputs.json                                  the triples (source, hypothesis, reference)
  goldens.json                                 COMET's scores (+ xCOMET's error spans), versions

The checkpoints name their encoder as ``pretrained_model: ./encoder``. COMET resolves that
against the current directory, so this script scores each model from inside its folder; the
harness resolves a ``./`` or ``../`` encoder path against the checkpoint folder (the one
holding hparams.yaml), which is the same folder.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import unicodedata
from pathlib import Path

NTREX = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "ntrex128"
SPECIALS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
VOWELS = "aăâeêioôơuưy"
TONES = ["\u0300", "\u0301", "\u0303", "\u0309", "\u0323"]  # huyền sắc ngã hỏi nặng
MAX_POSITIONS = 130  # small on purpose: the "very long" triples exercise COMET's truncation


def tone_marked_vowels() -> str:
    """Every Vietnamese vowel with and without each tone, both cases, plus đ/Đ (NFC)."""
    out = []
    for vowel in VOWELS + VOWELS.upper():
        out.append(vowel)
        out.extend(unicodedata.normalize("NFC", vowel + tone) for tone in TONES)
    return " ".join(out) + " đ Đ"


def read_ntrex(n: int) -> tuple[list[str], list[str]]:
    src = (NTREX / "newstest2019-src.eng.txt").read_text(encoding="utf-8").splitlines()
    ref = (NTREX / "newstest2019-ref.vie.txt").read_text(encoding="utf-8").splitlines()
    return src[:n], ref[:n]


def build_tokenizer(folder: Path, vocab_size: int = 800, lines: int = 600) -> None:
    """A Unigram tokenizer trained here, saved as XLMRobertaTokenizerFast like xlm-roberta-large."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from tokenizers.trainers import UnigramTrainer
    from transformers import XLMRobertaTokenizerFast

    src, ref = read_ntrex(lines)
    corpus = src + ref + [tone_marked_vowels()] * 5
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    trainer = UnigramTrainer(vocab_size=vocab_size, special_tokens=SPECIALS, unk_token="<unk>")
    tok.train_from_iterator(corpus, trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", 0), ("</s>", 2)],
    )
    fast = XLMRobertaTokenizerFast(tokenizer_object=tok)
    fast.save_pretrained(str(folder))


def encoder_config(kind: str, vocab_size: int, seed: int):
    from transformers import XLMRobertaConfig, XLMRobertaXLConfig

    cls = XLMRobertaXLConfig if kind == "XLM-RoBERTa-XL" else XLMRobertaConfig
    return cls(
        vocab_size=vocab_size,
        hidden_size=32,
        num_hidden_layers=3,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=MAX_POSITIONS,
        type_vocab_size=1,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        initializer_range=0.3,  # large, so that segments get clearly different scores
    )


MODELS = {
    "comet-tiny": {
        "class": "RegressionMetric",
        "encoder_model": "XLM-RoBERTa",
        "kwargs": {"layer_transformation": "sparsemax", "layer_norm": True, "pool": "avg"},
        "seed": 11,
    },
    "cometkiwi-tiny": {
        "class": "UnifiedMetric",
        "encoder_model": "XLM-RoBERTa",
        "kwargs": {
            "layer_transformation": "softmax",
            "layer_norm": True,
            "input_segments": ["mt", "src"],
            "word_level_training": False,
            "final_activation": "Sigmoid",
        },
        "seed": 12,
    },
    "xcomet-tiny": {
        "class": "XCOMETMetric",
        "encoder_model": "XLM-RoBERTa-XL",
        "kwargs": {"layer_transformation": "sparsemax", "layer_norm": False, "word_layer": 2},
        "seed": 13,
    },
}


def build_model(name: str, folder: Path, tokenizer_dir: Path):
    """Instantiate the COMET class on a tiny random encoder, then make its head non-trivial."""
    import shutil

    import torch
    from comet.models import RegressionMetric, UnifiedMetric, XCOMETMetric

    spec = MODELS[name]
    torch.manual_seed(spec["seed"])
    encoder_dir = folder / "encoder"
    shutil.copytree(tokenizer_dir, encoder_dir, dirs_exist_ok=True)
    vocab = len(json.loads((tokenizer_dir / "tokenizer.json").read_text())["model"]["vocab"])
    encoder_config(spec["encoder_model"], vocab, spec["seed"]).save_pretrained(str(encoder_dir))
    cls = {
        "RegressionMetric": RegressionMetric,
        "UnifiedMetric": UnifiedMetric,
        "XCOMETMetric": XCOMETMetric,
    }[spec["class"]]
    os.chdir(folder)  # pretrained_model "./encoder" is relative to the current directory
    model = cls(
        encoder_model=spec["encoder_model"],
        pretrained_model="./encoder",
        hidden_sizes=[64, 32],
        load_pretrained_weights=False,
        local_files_only=True,
        **spec["kwargs"],
    )
    with torch.no_grad():
        # Layer weights that make sparsemax drop some layers and softmax uneven.
        for p in model.layerwise_attention.scalar_parameters:
            p.copy_(torch.randn(1) * 1.5)
        model.layerwise_attention.gamma.fill_(1.7)
        if name == "comet-tiny":
            # The top layer gets sparsemax weight 0: the harness then skips it, and the
            # goldens check that doing so changes nothing.
            model.layerwise_attention.scalar_parameters[-1].fill_(-10.0)
        for layer in model.estimator.ff:
            if isinstance(layer, torch.nn.Linear):  # spread the scores between segments
                layer.weight.mul_(3.0)
        if hasattr(model, "hidden2tag"):
            # Larger weights and a lowered "O" bias: some subwords are tagged as errors of
            # each severity, others OK, so the span test decodes real spans.
            model.hidden2tag.weight.mul_(6.0)
            model.hidden2tag.bias.copy_(torch.tensor([0.6, 0.0, -0.2, -0.4]))
    return model


def save_hub_layout(model, folder: Path) -> None:
    import pytorch_lightning
    import torch
    import yaml

    hparams = dict(model.hparams)
    (folder / "checkpoints").mkdir(parents=True, exist_ok=True)
    checkpoint = {
        "state_dict": model.state_dict(),
        "hyper_parameters": hparams,
        "pytorch-lightning_version": pytorch_lightning.__version__,
        "epoch": 0,
        "global_step": 0,
    }
    torch.save(checkpoint, folder / "checkpoints" / "model.ckpt")
    (folder / "hparams.yaml").write_text(yaml.safe_dump(hparams, sort_keys=True))


def triples() -> list[dict[str, str]]:
    """About 20 (src, mt, ref): real NTREX lines and hand-made edge cases."""
    src, ref = read_ntrex(12)
    rows = []
    for i in range(6):  # identical, and with the first word dropped
        rows.append({"src": src[i], "mt": ref[i], "ref": ref[i]})
        rows.append({"src": src[i], "mt": " ".join(ref[i].split()[1:]), "ref": ref[i]})
    rows += [
        {"src": src[6], "mt": "", "ref": ref[6]},  # empty hypothesis
        {"src": src[7], "mt": src[7], "ref": ref[7]},  # untranslated
        {"src": "It is peace.", "mt": "Đó là hòa bình.", "ref": "Đó là hoà bình."},  # tone place
        {"src": "It is peace.", "mt": "Đó là hoà bình.", "ref": "Đó là hoà bình."},
        {"src": "The water.", "mt": "Nước thuỷ.", "ref": "Nước thủy."},
        {
            "src": "The water.",
            "mt": unicodedata.normalize("NFD", "Nước thủy."),
            "ref": "Nước thủy.",
        },  # NFD hypothesis
        {"src": "Hello!", "mt": "Xin chao!", "ref": "Xin chào!"},  # tone marks stripped
        {
            "src": " ".join(src[8:12]),
            "mt": " ".join(ref[8:12]) * 3,
            "ref": " ".join(ref[8:12]),
        },  # very long: truncated
        {"src": src[9], "mt": "😀 中文 ✓", "ref": ref[9]},  # unknown characters
        {"src": src[10], "mt": "  " + ref[10] + "   ", "ref": ref[10]},  # stray spaces
    ]
    return rows


def score(model_dir: Path, samples: list[dict[str, str]]) -> dict:
    import comet

    os.chdir(model_dir)
    model = comet.load_from_checkpoint("checkpoints/model.ckpt")
    out = model.predict(samples, batch_size=4, gpus=0, progress_bar=False)
    result = {"scores": list(out.scores), "system_score": out.system_score}
    if "metadata" in out:
        meta = dict(out.metadata)
        if "error_spans" in meta:
            result["error_spans"] = meta.pop("error_spans")
        result["metadata"] = {k: list(v) for k, v in meta.items()}
    return result


def versions() -> dict:
    freeze = subprocess.run(
        [sys.executable, "-m", "pip", "freeze"], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    return {"python": platform.python_version(), "pip_freeze": freeze}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("tests/fixtures/neural"))
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    tok_dir = out / "_tokenizer"
    build_tokenizer(tok_dir)
    for name in MODELS:
        folder = out / name
        save_hub_layout(build_model(name, folder, tok_dir), folder)
    import shutil

    shutil.rmtree(tok_dir)
    rows = triples()
    (out / "inputs.json").write_text(json.dumps(rows, ensure_ascii=False, indent=1) + "\n")
    no_ref = [{"src": r["src"], "mt": r["mt"]} for r in rows]
    goldens = {
        "comet": {"model": "comet-tiny", "references": True, **score(out / "comet-tiny", rows)},
        "cometkiwi": {
            "model": "cometkiwi-tiny",
            "references": False,
            **score(out / "cometkiwi-tiny", no_ref),
        },
        "xcomet": {"model": "xcomet-tiny", "references": True, **score(out / "xcomet-tiny", rows)},
        "xcomet_qe": {
            "model": "xcomet-tiny",
            "references": False,
            **score(out / "xcomet-tiny", no_ref),
        },
        "command": "/work/venvs/comet/bin/python scripts/make_comet_goldens.py "
        "--out tests/fixtures/neural",
        "predict_call": "comet.load_from_checkpoint('checkpoints/model.ckpt')"
        ".predict(samples, batch_size=4, gpus=0), cwd = the model folder",
        "versions": versions(),
    }
    (out / "goldens.json").write_text(json.dumps(goldens, ensure_ascii=False, indent=1) + "\n")
    for key in ("comet", "cometkiwi", "xcomet", "xcomet_qe"):
        g = goldens[key]
        spans = sum(len(s) for s in g.get("error_spans", []))
        print(
            f"{key}: system {g['system_score']:.4f} scores {[round(s, 3) for s in g['scores']]}"
            f" spans {spans}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Build the tiny MetricX-24 fixture and score it with google-research/metricx's own code.

Runs in the REFERENCE venv (not the harness's), with a clone of google-research/metricx at the
commit named in tests/fixtures/neural/metricx/README.md:

    PYTHONPATH=$PWD /work/venvs/metricx/bin/python scripts/make_metricx_goldens.py \
        --metricx-src /work/venvs/metricx-src [--out tests/fixtures/neural/metricx]

It writes into --out:
  tokenizer/        an mT5-style SentencePiece tokenizer (google/mt5-xl's file layout), trained
                    here on EN+VI text holding every tone-marked Vietnamese vowel
  model-compact/    config.json + compact.safetensors of a tiny MT5ForRegression
                    (harness/devtools/metricx_fixture.py expands it to config.json +
                    model.safetensors, the layout of google/metricx-24-hybrid-*)
  inputs.jsonl      the fixed triples (source, hypothesis, reference)
  goldens.json      metricx24.predict's scores for them in reference mode and in QE mode, the
                    token ids its get_dataset fed the model, versions and the exact commands
  reference-venv.txt  pip freeze of the reference venv

The harness is never imported beyond harness.devtools (torch + safetensors only), and nothing of
the metricx code is copied: it is run, as a module, from the clone.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import subprocess
import sys
import tempfile
import unicodedata
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from harness.devtools.metricx_fixture import (  # noqa: E402
    COMPACT_FILE,
    compact_state_dict,
    expand_checkpoint,
    file_sha256,
)
from harness.devtools.tiny_models import vietnamese_charset_lines  # noqa: E402

NTREX = REPO.parent / "shared" / "data" / "ntrex128"
SAMPLE = REPO / "harness" / "data" / "sample" / "itu-wtisd-2021.en-vi.txt"
MAX_INPUT_LENGTH = 1536  # what the MetricX-24 README passes to predict.py
SCORE_POSITION = 250089  # metricx24/models.py reads this logit (<extra_id_10> in mT5)
VOCAB_SIZE = 250112  # google/mt5-* and google/metricx-24-* config.json
# Output rows kept non-zero around the score position: a harness reading a neighbouring
# logit gets a different number and fails the goldens.
HEAD_ROWS = list(range(SCORE_POSITION - 8, SCORE_POSITION + 9))
VERSIONED = (
    "torch",
    "transformers",
    "tokenizers",
    "sentencepiece",
    "datasets",
    "safetensors",
    "accelerate",
    "numpy",
    "protobuf",
    "huggingface-hub",
)


def read_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


# --- tokenizer --------------------------------------------------------------------------------


def train_tokenizer(dest: Path, ntrex_src: list[str], ntrex_ref: list[str], seed: int) -> None:
    """A SentencePiece unigram model with mT5's special ids (pad 0, eos 1, unk 2, no bos)."""
    import sentencepiece as spm

    lines = [ln for ln in read_lines(SAMPLE) if ln.strip()]
    lines += ntrex_src[100:400] + ntrex_ref[100:400] + vietnamese_charset_lines()
    spm.set_random_generator_seed(seed)
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines),
        model_writer=buf,
        vocab_size=1000,
        model_type="unigram",
        character_coverage=1.0,
        hard_vocab_limit=False,
        pad_id=0,
        eos_id=1,
        unk_id=2,
        bos_id=-1,
        num_threads=1,
        minloglevel=2,
    )
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "spiece.model").write_bytes(buf.getvalue())
    specials = {"eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>"}
    (dest / "special_tokens_map.json").write_text(json.dumps(specials, indent=2) + "\n")
    config = {
        **specials,
        "extra_ids": 0,
        "additional_special_tokens": None,
        "tokenizer_class": "T5Tokenizer",
        "model_max_length": 1000000000000000019884624838656,
    }
    (dest / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n")


# --- triples ----------------------------------------------------------------------------------


def swap_tone_style(text: str) -> str:
    """'hòa' -> 'hoà' style (tone mark on the other vowel), a real NTREX variation."""
    for old, new in (
        ("òa", "oà"),
        ("óa", "oá"),
        ("ỏa", "oả"),
        ("õa", "oã"),
        ("ọa", "oạ"),
        ("úy", "uý"),
        ("ùy", "uỳ"),
        ("ủy", "uỷ"),
        ("ũy", "uỹ"),
        ("ụy", "uỵ"),
    ):
        text = text.replace(old, new)
    return text


def make_triples(src: list[str], ref: list[str]) -> list[dict[str, str]]:
    words = ref[3].split()
    long_src = " ".join(src[500:560])
    long_ref = " ".join(ref[500:560])
    rows = [
        (src[0], ref[0], ref[0]),  # identical to reference
        (src[1], ref[1], ref[1]),
        (src[3], " ".join(words[: len(words) // 2]), ref[3]),  # truncated hypothesis
        (src[4], " ".join(reversed(ref[4].split())), ref[4]),  # word order reversed
        (src[17], swap_tone_style(ref[17]), ref[17]),  # hoà vs hòa placement
        (src[129], unicodedata.normalize("NFD", ref[129]), ref[129]),  # NFD hypothesis
        (src[5], src[5], ref[5]),  # untranslated copy
        (src[6], "", ref[6]),  # empty hypothesis
        (src[7], "   ", ref[7]),  # whitespace only
        (src[8], ref[8].upper(), ref[8]),  # upper case
        (src[9], ref[10], ref[9]),  # another sentence
        (long_src, long_ref, long_ref),  # source alone > 1536 tokens
        (" ".join(src[600:610]), " ".join(ref[600:610]), " ".join(ref[610:620])),  # ref mode > 1536
        (src[11], "Xin chào 😀 世界 — ∑", ref[11]),  # pieces outside the vocab
        (src[12], "candidate: reference: source:", ref[12]),  # the field labels as text
        ("", "Xin chào, bạn có khỏe không?", "Xin chào, bạn khoẻ không?"),  # empty source
        (
            "Hello, how are you?",
            "Xin chào,\tbạn  có khỏe\u00a0không?",
            "Xin chào, bạn có khỏe không?",
        ),  # tab, double space, NBSP
        (src[13], ref[13], ref[14]),  # mismatched reference
        (src[15], ref[15].replace(" ", "", 3), ref[15]),  # three spaces removed
        (src[0], ref[0], ref[0]),  # duplicate of the first
        (src[16], ref[16] + " " + ref[16], ref[16]),  # repeated hypothesis
        # Trailing newline in the hypothesis, trailing space at the end of the reference (so
        # at the end of the whole input in reference mode).
        (src[18], ref[18] + "\n", ref[18] + " "),
    ]
    return [
        {"id": f"s{i:02d}", "source": s, "hypothesis": h, "reference": r}
        for i, (s, h, r) in enumerate(rows)
    ]


# --- model ------------------------------------------------------------------------------------


def tiny_config(models_mod):
    return models_mod.MT5Config(
        vocab_size=VOCAB_SIZE,
        d_model=16,
        d_kv=4,
        d_ff=32,
        num_layers=2,
        num_decoder_layers=2,
        num_heads=4,
        relative_attention_num_buckets=32,
        relative_attention_max_distance=128,
        dropout_rate=0.1,
        layer_norm_epsilon=1e-6,
        feed_forward_proj="gated-gelu",
        tie_word_embeddings=False,
        decoder_start_token_id=0,
        pad_token_id=0,
        eos_token_id=1,
        tokenizer_class="T5Tokenizer",
        architectures=["MT5ForRegression"],
        # predict.py loads with torch_dtype="auto": the reference then computes in float64
        # (except softmax and layer-norm variance, which transformers takes in float32), so
        # the goldens carry little rounding; the tests run the harness in float64 too.
        torch_dtype="float64",
    )


def decoder_states(model, batches) -> torch.Tensor:  # noqa: F821
    """The lm_head inputs (one decoder step) of the reference model, one row per input."""
    import torch

    seen = []
    hook = model.lm_head.register_forward_hook(lambda _m, args, _o: seen.append(args[0][:, 0]))
    with torch.no_grad():
        for ids in batches:
            t = torch.tensor([ids])
            model(input_ids=t, attention_mask=torch.ones_like(t))
    hook.remove()
    return torch.cat(seen)


def score_row(states, seed: int):
    """A score row (d_model,) that spreads the states' scores over about -3..28.

    Least squares to targets from -3 to 28, handed out in the order of a random projection
    of the states (so that a short row can reach them): the scores differ between inputs and
    several fall on each side of 0..25 (clipping is exercised). Rounding noise in the state
    times the row's length must stay well below the 1e-4 the goldens are checked to.
    """
    import torch

    gen = torch.Generator().manual_seed(seed)
    order = torch.argsort(states @ torch.randn(states.shape[1], generator=gen))
    targets = torch.empty(len(states))
    targets[order] = torch.linspace(-3.0, 28.0, len(states))
    return torch.linalg.lstsq(states.double(), targets.double().unsqueeze(1)).solution[:, 0].float()


def build_model(dest: Path, models_mod, token_ids: list[list[int]], n_pieces: int, seed: int):
    """A random tiny MT5ForRegression with a score row fitted to the fixture inputs."""
    import torch

    torch.manual_seed(seed)
    # The default initialisation. A wider one (tried: factor 3) makes the decoder state depend
    # more on the input, so a shorter score row suffices, but its large activations make the
    # model sensitive to rounding: float32-level noise (which the reference keeps even in
    # float64, in softmax and layer-norm variance) then moved scores by 2e-4.
    model = models_mod.MT5ForRegression(tiny_config(models_mod)).eval()
    states = decoder_states(model, token_ids)
    row = score_row(states, seed)
    with torch.no_grad():
        head = model.lm_head.weight
        head[HEAD_ROWS] = (
            torch.randn(len(HEAD_ROWS), head.shape[1]) * row.norm() / head.shape[1] ** 0.5
        )
        head[SCORE_POSITION] = row
    state = model.state_dict()
    compact = compact_state_dict(state, embedding_rows=n_pieces, head_row_ids=HEAD_ROWS)
    from safetensors.torch import save_file

    dest.mkdir(parents=True, exist_ok=True)
    save_file(compact, str(dest / COMPACT_FILE), metadata={"format": "pt"})
    model.config.to_json_file(str(dest / "config.json"))


# --- reference runs ---------------------------------------------------------------------------


def reference_token_ids(predict_mod, tokenizer, rows, is_qe: bool, work: Path) -> list[list[int]]:
    """The input_ids metricx24.predict.get_dataset produces (EOS removed), in input order."""
    path = work / ("ids-qe.jsonl" if is_qe else "ids-ref.jsonl")
    write_jsonl(path, mode_rows(rows, is_qe))
    ds = predict_mod.get_dataset(str(path), tokenizer, MAX_INPUT_LENGTH, "cpu", is_qe)["test"]
    return [[int(i) for i in ex["input_ids"]] for ex in ds]


def mode_rows(rows, is_qe: bool) -> list[dict[str, str]]:
    keys = ("id", "source", "hypothesis") if is_qe else ("id", "source", "hypothesis", "reference")
    return [{k: row[k] for k in keys} for row in rows]


def write_jsonl(path: Path, rows) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def run_predict(metricx_src: Path, tok: Path, model: Path, rows, is_qe: bool, work: Path):
    """metricx24.predict as its README runs it (batch size 1), in a subprocess."""
    name = "qe" if is_qe else "ref"
    inp, out = work / f"input-{name}.jsonl", work / f"output-{name}.jsonl"
    write_jsonl(inp, mode_rows(rows, is_qe))
    cmd = [
        sys.executable,
        "-m",
        "metricx24.predict",
        "--tokenizer",
        str(tok),
        "--model_name_or_path",
        str(model),
        "--max_input_length",
        str(MAX_INPUT_LENGTH),
        "--batch_size",
        "1",
        "--input_file",
        str(inp),
        "--output_file",
        str(out),
    ]
    if is_qe:
        cmd.append("--qe")
    env = {
        **os.environ,
        "PYTHONPATH": str(metricx_src),
        "CUDA_VISIBLE_DEVICES": "",
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_DATASETS_CACHE": str(work / "datasets-cache"),
    }
    subprocess.run(cmd, check=True, env=env, cwd=work)
    preds = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    if [p["id"] for p in preds] != [r["id"] for r in rows]:
        raise SystemExit(f"predict.py changed the order of {inp}")
    shown = [
        c.replace(str(work), "$WORK")
        .replace(str(tok.parent), "$OUT")
        .replace(sys.executable, "python")
        for c in cmd
    ]
    return [float(p["prediction"]) for p in preds], " ".join(shown)


def versions() -> dict[str, str]:
    from importlib import metadata

    out = {"python": platform.python_version()}
    for name in VERSIONED:
        out[name] = metadata.version(name)
    return out


def git_commit(path: Path) -> str:
    return subprocess.run(
        ["git", "-C", str(path), "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--metricx-src", type=Path, required=True, help="google-research/metricx clone"
    )
    parser.add_argument("--out", type=Path, default=REPO / "tests/fixtures/neural/metricx")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        return build_all(args, Path(tmp))


def build_all(args: argparse.Namespace, work: Path) -> int:
    # Read when datasets/transformers are imported: no hub, no cache outside the work folder.
    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
        os.environ[var] = "1"
    os.environ["HF_DATASETS_CACHE"] = str(work / "datasets-cache")
    sys.path.insert(0, str(args.metricx_src))
    import transformers
    from metricx24 import models, predict

    src, ref = (
        read_lines(NTREX / "newstest2019-src.eng.txt"),
        read_lines(NTREX / "newstest2019-ref.vie.txt"),
    )
    out: Path = args.out
    train_tokenizer(out / "tokenizer", src, ref, args.seed)
    rows = make_triples(src, ref)
    write_jsonl(out / "inputs.jsonl", rows)
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(out / "tokenizer"))
    ids = {m: reference_token_ids(predict, tokenizer, rows, m == "qe", work) for m in ("ref", "qe")}
    build_model(out / "model-compact", models, ids["ref"] + ids["qe"], len(tokenizer), args.seed)
    model_dir = expand_checkpoint(out / "model-compact", work / "model")
    _, info = models.MT5ForRegression.from_pretrained(str(model_dir), output_loading_info=True)
    scores, commands = {}, {}
    for mode in ("ref", "qe"):
        scores[mode], commands[mode] = run_predict(
            args.metricx_src, out / "tokenizer", model_dir, rows, mode == "qe", work
        )
    goldens = {
        "metricx_commit": git_commit(args.metricx_src),
        "versions": versions(),
        "max_input_length": MAX_INPUT_LENGTH,
        "batch_size": 1,
        "commands": {
            "build": "PYTHONPATH=$PWD /work/venvs/metricx/bin/python "
            "scripts/make_metricx_goldens.py --metricx-src $METRICX_SRC",
            **{f"predict_{m}": c for m, c in commands.items()},
        },
        "tokenizer_class": type(tokenizer).__name__,
        "model_sha256": file_sha256(model_dir / "model.safetensors"),
        "loading_info": {k: sorted(v) for k, v in info.items()},
        "system": {m: sum(s) / len(s) for m, s in scores.items()},
        "segments": [
            {
                "id": row["id"],
                **{m: {"score": scores[m][i], "input_ids": ids[m][i]} for m in ("ref", "qe")},
            }
            for i, row in enumerate(rows)
        ],
    }
    (out / "goldens.json").write_text(json.dumps(goldens, indent=1, ensure_ascii=False) + "\n")
    freeze = subprocess.run(
        [sys.executable, "-m", "pip", "freeze"], check=True, capture_output=True, text=True
    ).stdout
    (out / "reference-venv.txt").write_text(freeze)
    print(json.dumps({"system": goldens["system"], "loading_info": goldens["loading_info"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

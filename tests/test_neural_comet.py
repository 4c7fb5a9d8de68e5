"""COMET, CometKiwi and xCOMET re-implemented: equal to unbabel-comet 2.2.7 on tiny checkpoints.

The expected values in tests/fixtures/neural/goldens.json were computed by unbabel-comet's own
``load_from_checkpoint(...).predict(...)`` in its own venv (command and pip freeze inside the
file; see tests/fixtures/neural/README.md). No test here needs that venv.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from harness.errors import HarnessError, MetricError
from harness.metrics.neural import (
    CheckpointNotFoundError,
    MemorySegmentCache,
    SqliteSegmentCache,
    load_comet,
)

NEURAL = Path(__file__).resolve().parent / "fixtures" / "neural"
GOLDENS = json.loads((NEURAL / "goldens.json").read_text(encoding="utf-8"))
ROWS = json.loads((NEURAL / "inputs.json").read_text(encoding="utf-8"))
SRC = [r["src"] for r in ROWS]
MT = [r["mt"] for r in ROWS]
REF = [r["ref"] for r in ROWS]
_SCORERS: dict[str, object] = {}


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """The fixture models are tiny: on a busy 2-core machine two threads per worker spend
    their time waiting for each other (measured: 10 s vs 1 s for one xCOMET pass)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def scorer(model: str):
    """One scorer per fixture model and test worker (loading imports transformers)."""
    if model not in _SCORERS:
        _SCORERS[model] = load_comet(str(NEURAL / model), batch_size=3)
    return _SCORERS[model]


@pytest.mark.parametrize("case", ["comet", "cometkiwi", "xcomet", "xcomet_qe"])
def test_scores_equal_comet_goldens(case: str) -> None:
    golden = GOLDENS[case]
    out = scorer(golden["model"]).score(SRC, MT, REF if golden["references"] else None)
    assert len(out.scores) == len(golden["scores"]) == len(ROWS)
    assert out.scores == pytest.approx(golden["scores"], abs=1e-4)
    assert out.system_score == pytest.approx(golden["system_score"], abs=1e-4)
    # The fixtures are only a test if segments really differ.
    assert max(golden["scores"]) - min(golden["scores"]) > 0.05


@pytest.mark.parametrize("case", ["xcomet", "xcomet_qe"])
def test_xcomet_error_spans_equal_comet(case: str) -> None:
    golden = GOLDENS[case]
    out = scorer(golden["model"]).score(SRC, MT, REF if golden["references"] else None)
    assert out.error_spans is not None
    severities = {s["severity"] for spans in golden["error_spans"] for s in spans}
    assert severities == {"minor", "major", "critical"}  # the fixture tags every class
    assert any(not spans for spans in golden["error_spans"])  # and some segments are clean
    for got, want in zip(out.error_spans, golden["error_spans"], strict=True):
        strip = [{k: v for k, v in s.items() if k != "confidence"} for s in want]
        assert [{k: v for k, v in s.items() if k != "confidence"} for s in got] == strip
        assert [s["confidence"] for s in got] == pytest.approx(
            [s["confidence"] for s in want], abs=1e-4
        )


def test_unused_top_layer_is_skipped() -> None:
    # comet-tiny's sparsemax mix gives the last of its 3 layers weight 0; its goldens (from
    # COMET, which runs every layer) are matched above with that layer not run.
    assert scorer("comet-tiny").net.layers_run == 2
    assert scorer("xcomet-tiny").net.layers_run == 3  # XL: never cut (last state is normed)


def test_regression_metric_gives_no_spans_and_needs_references() -> None:
    comet = scorer("comet-tiny")
    assert comet.score(SRC[:2], MT[:2], REF[:2]).error_spans is None
    with pytest.raises(MetricError, match="needs references"):
        comet.score(SRC[:2], MT[:2], None)
    with pytest.raises(MetricError, match="counts must match"):
        comet.score(SRC[:2], MT[:1], REF[:2])


def test_order_and_batching_do_not_change_scores() -> None:
    golden = GOLDENS["comet"]["scores"]
    reordered = list(reversed(range(len(ROWS))))
    out = load_comet(str(NEURAL / "comet-tiny"), batch_size=1, max_tokens=40).score(
        [SRC[i] for i in reordered], [MT[i] for i in reordered], [REF[i] for i in reordered]
    )
    assert out.scores == pytest.approx([golden[i] for i in reordered], abs=1e-4)


def test_segment_cache_scores_only_new_segments(tmp_path: Path) -> None:
    class Counting(MemorySegmentCache):
        def __init__(self) -> None:
            super().__init__()
            self.stored: list[int] = []

        def put_many(self, items):  # type: ignore[no-untyped-def]
            self.stored.append(len(items))
            super().put_many(items)

    xcomet = scorer("xcomet-tiny")
    cache = Counting()
    first = xcomet.score(SRC[:5], MT[:5], REF[:5], cache=cache)
    again = xcomet.score(SRC[:6], MT[:6], REF[:6], cache=cache)
    assert cache.stored == [5, 1]
    assert again.scores[:5] == first.scores and again.error_spans[:5] == first.error_spans
    assert again.scores == pytest.approx(GOLDENS["xcomet"]["scores"][:6], abs=1e-4)
    # Without a reference the segments are new ones (another input, another score).
    xcomet.score(SRC[:5], MT[:5], None, cache=cache)
    assert cache.stored == [5, 1, 5]

    sqlite = SqliteSegmentCache(tmp_path / "metrics.sqlite")
    xcomet.score(SRC[:4], MT[:4], REF[:4], cache=sqlite)
    sqlite.close()
    reopened = SqliteSegmentCache(tmp_path / "metrics.sqlite")
    keys = [xcomet._segment_key(s, h, r) for s, h, r in zip(SRC[:4], MT[:4], REF[:4], strict=True)]
    assert len(reopened.get_many(keys)) == 4
    reopened.close()


def test_identity_and_signature() -> None:
    comet = scorer("comet-tiny")
    ident = comet.identity()
    assert ident["model_class"] == "regression_metric"
    assert ident["revision"].startswith("sha256:") and len(ident["revision"]) == 71
    assert ident["encoder"] == "./encoder" and ident["encoder_revision"].startswith("sha256:")
    assert ident["dtype"] == "float32" and ident["torch"] and ident["transformers"]
    sig = comet.signature("comet", nrefs=1)
    assert sig.startswith("comet:") and "|encoder:./encoder|nrefs:1|" in sig
    assert scorer("cometkiwi-tiny").signature("cometkiwi").count("nrefs:0") == 1
    assert comet.identity_key() != scorer("xcomet-tiny").identity_key()


def test_missing_hub_checkpoint_offline_names_it_and_the_fix() -> None:
    with pytest.raises(CheckpointNotFoundError) as info:
        load_comet("Unbabel/wmt22-comet-da")
    message = str(info.value)
    assert isinstance(info.value, HarnessError)
    assert len(message.splitlines()) == 2
    assert "'Unbabel/wmt22-comet-da'" in message and "model: /path/to/folder" in message


def test_missing_encoder_offline_names_it(tmp_path: Path) -> None:
    folder = tmp_path / "copy"
    shutil.copytree(NEURAL / "comet-tiny", folder)
    hparams = (folder / "hparams.yaml").read_text()
    (folder / "hparams.yaml").write_text(
        hparams.replace("pretrained_model: ./encoder", "pretrained_model: xlm-roberta-large")
    )
    with pytest.raises(CheckpointNotFoundError, match="encoder 'xlm-roberta-large'"):
        load_comet(str(folder))
    # The encoder override points the same checkpoint at a local copy again.
    out = load_comet(str(folder), encoder=str(NEURAL / "comet-tiny" / "encoder")).score(
        SRC[:3], MT[:3], REF[:3]
    )
    assert out.scores == pytest.approx(GOLDENS["comet"]["scores"][:3], abs=1e-4)


def test_hub_snapshot_in_the_local_cache_loads_with_its_sha(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub import constants

    sha = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "models--Unbabel--tiny-comet"
    shutil.copytree(NEURAL / "cometkiwi-tiny", repo / "snapshots" / sha)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(sha)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    kiwi = load_comet("Unbabel/tiny-comet")
    assert kiwi.identity()["revision"] == sha
    out = kiwi.score(SRC[:4], MT[:4])
    assert out.scores == pytest.approx(GOLDENS["cometkiwi"]["scores"][:4], abs=1e-4)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("no_ckpt", "checkpoints/model.ckpt' is missing"),
        ("no_hparams", "hparams.yaml' is missing"),
        ("bad_class", "class_identifier 'ranking_metric' is not supported"),
        ("garbage_ckpt", "cannot read the checkpoint"),
        ("wrong_ckpt", "does not fit its hparams"),
        ("no_folder", "does not exist"),
    ],
)
def test_broken_hub_layout_folder_is_a_clear_error(
    tmp_path: Path, damage: str, message: str
) -> None:
    folder = tmp_path / "model"
    shutil.copytree(NEURAL / "xcomet-tiny", folder)
    ckpt = folder / "checkpoints" / "model.ckpt"
    if damage == "no_ckpt":
        ckpt.unlink()
    elif damage == "no_hparams":
        (folder / "hparams.yaml").unlink()
    elif damage == "bad_class":
        text = (folder / "hparams.yaml").read_text()
        (folder / "hparams.yaml").write_text(text.replace("xcomet_metric", "ranking_metric"))
    elif damage == "garbage_ckpt":
        ckpt.write_bytes(b"not a checkpoint")
    elif damage == "wrong_ckpt":
        shutil.copy(NEURAL / "comet-tiny" / "checkpoints" / "model.ckpt", ckpt)
    else:
        shutil.rmtree(folder)
    with pytest.raises(MetricError, match=message):
        load_comet(str(folder))

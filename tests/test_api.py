"""The Python API as a notebook calls it: `import harness`, then harness.score / harness.evaluate.

Expected scores and signatures come from sacrebleu itself (``sacrebleu.metrics.*`` with their
defaults, i.e. what the sacrebleu CLI runs), not from the harness's statistics path.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
import sacrebleu
from sacrebleu.metrics import BLEU, CHRF, TER

import harness

REPO = Path(__file__).resolve().parents[1]

HYPS = ["Xin chào, bạn có khỏe không?", "Tôi thích đọc sách.", "Hôm nay trời đẹp quá."]
REF1 = ["Xin chào, bạn khỏe không?", "Tôi thích đọc sách lắm.", "Hôm nay trời rất đẹp."]
REF2 = ["Chào bạn, bạn có khỏe không?", "Tôi rất thích đọc sách.", "Trời hôm nay đẹp quá."]


def sacre(name: str):
    return {"bleu": BLEU(), "chrf": CHRF(), "chrf++": CHRF(word_order=2), "ter": TER()}[name]


@pytest.mark.parametrize("metric", ["bleu", "chrf", "chrf++", "ter"])
@pytest.mark.parametrize("refs", [[REF1], [REF1, REF2]], ids=["1ref", "2refs"])
def test_score_and_signature_equal_sacrebleus(metric, refs):
    result = harness.score(HYPS, refs, metrics=[metric], bootstrap_resamples=100)
    expected = sacre(metric)
    want = expected.corpus_score(HYPS, refs)
    got = result[metric]
    assert got.score == want.score
    assert got.signature == got.sacrebleu_signature == expected.get_signature().format()
    assert got.ci95 is not None and got.ci95[0] <= got.score <= got.ci95[1]
    assert got.n_resamples == 100 and got.seed == 12345
    assert result.references_per_segment == len(refs) and result.validity is None


def test_a_flat_list_is_one_reference_and_defaults_are_bleu_chrf():
    result = harness.score(HYPS, REF1)
    assert list(result) == ["bleu", "chrf"]
    assert result["bleu"].score == sacrebleu.corpus_bleu(HYPS, [REF1]).score
    assert result["chrf"].score == sacrebleu.corpus_chrf(HYPS, [REF1]).score
    assert json.loads(json.dumps(result.to_dict()))["scores"]["bleu"]["score"] == pytest.approx(
        result["bleu"].score
    )
    assert harness.score(HYPS, REF1, bootstrap_resamples=0)["bleu"].ci95 is None


def test_decomposed_text_is_scored_as_nfc_and_the_signature_says_so():
    nfd = [unicodedata.normalize("NFD", r) for r in REF1]
    result = harness.score(HYPS, [nfd], metrics=["bleu"])
    bleu = BLEU()
    assert result["bleu"].score == bleu.corpus_score(HYPS, [REF1]).score
    assert result["bleu"].signature == bleu.get_signature().format() + "|textnorm:nfc"
    assert bleu.corpus_score(HYPS, [nfd]).score < result["bleu"].score  # sacrebleu on raw NFD
    assert result.normalization["changed"]["boundary_references"] == 3


def test_reference_shapes_that_cannot_be_told_apart_are_refused():
    two = HYPS[:2]
    square = [REF1[:2], REF2[:2]]  # 2 streams of 2, or 2 segments with 2 references each
    with pytest.raises(harness.errors.MetricError, match="reads both as 2 reference streams"):
        harness.score(two, square)
    as_streams = harness.score(two, square, references_layout="streams", metrics=["bleu"])
    assert as_streams["bleu"].score == BLEU().corpus_score(two, square).score
    as_items = harness.score(two, square, references_layout="items", metrics=["bleu"])
    transposed = [list(s) for s in zip(*square, strict=True)]
    assert as_items["bleu"].score == BLEU().corpus_score(two, transposed).score
    # One hypothesis: [[ref]] is the same both ways, so it is accepted.
    one = harness.score(HYPS[:1], [REF1[:1]], metrics=["bleu"])
    assert one["bleu"].score == BLEU().corpus_score(HYPS[:1], [REF1[:1]]).score


def test_item_major_references_are_refused_with_the_fix():
    items = [[a, b] for a, b in zip(REF1, REF2, strict=True)]  # 3 segments x 2 references
    with pytest.raises(harness.errors.MetricError, match=r"one list per segment.*'items'"):
        harness.score(HYPS, items)
    fixed = harness.score(HYPS, items, references_layout="items", metrics=["bleu"])
    assert fixed["bleu"].score == BLEU().corpus_score(HYPS, [REF1, REF2]).score


@pytest.mark.parametrize(
    ("refs", "message"),
    [
        (REF1[:2], "3 hypotheses but 2 references"),
        ([REF1, REF2[:2]], "reference stream 1 has 2 entries for 3 hypotheses"),
        ("Xin chào", "references must be a list"),
        ([REF1[0], REF1], "mixes strings and lists"),
        ([], "no references"),
        ([REF1, [1, 2, 3]], r"references\[1\]\[0\] is int"),
    ],
)
def test_bad_reference_shapes_raise_metric_errors(refs, message):
    with pytest.raises(harness.errors.MetricError, match=message):
        harness.score(HYPS, refs)


def test_other_bad_input_raises_harness_errors_not_exit():
    with pytest.raises(harness.errors.MetricError, match="3 hypotheses but 2 sources"):
        harness.score(HYPS, REF1, sources=["a", "b"])
    with pytest.raises(harness.errors.HarnessError, match="bleu2"):
        harness.score(HYPS, REF1, metrics=["bleu2"])
    with pytest.raises(harness.errors.ConfigError, match="tone_marks"):
        harness.score(HYPS, REF1, tone_marks="old")
    with pytest.raises(harness.errors.MetricError, match="hypotheses must be a list"):
        harness.score("one string", REF1[:1])


def test_import_and_score_load_no_torch():
    code = (
        "import sys; import harness; cheap = [m for m in ('numpy', 'sacrebleu', 'torch') "
        "if m in sys.modules]; r = harness.score(['Xin chào'], ['Xin chào bạn']); "
        "print(cheap, round(r['bleu'].score, 2), 'torch' in sys.modules)"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr
    want = round(sacrebleu.corpus_bleu(["Xin chào"], [["Xin chào bạn"]]).score, 2)
    assert run.stdout.split() == ["[]", str(want), "False"]


def _notebook_config(tmp_path: Path, model: Path) -> dict:
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    (data / "t.en").write_text("Hello.\nThank you.\nGood morning.\n", encoding="utf-8")
    (data / "t.vi").write_text("Xin chào.\nCảm ơn.\nChào buổi sáng.\n", encoding="utf-8")
    return {
        "name": "nb",
        "datasets": [{"kind": "files", "source": "data/t.en", "references": ["data/t.vi"]}],
        "models": [
            {"name": "a", "model": str(model), "max_new_tokens": 8},
            {"name": "b", "model": str(model), "max_new_tokens": 6},
        ],
        "metrics": ["bleu", "chrf"],
        "statistics": {"bootstrap_resamples": 50},
        "output_dir": str(tmp_path / "runs"),
    }


def test_evaluate_a_dict_as_a_notebook_would(tmp_path, tiny_marian, capsys):
    config = _notebook_config(tmp_path, tiny_marian)
    result = harness.evaluate(config, {"models.1.num_beams": 2}, base_dir=tmp_path, baseline="a")
    assert [(e.model, e.dataset) for e in result] == [("a", "t"), ("b", "t")]
    assert result.run_dir == tmp_path / "runs" / "nb"
    entry = result[("b", "t")]
    on_disk = json.loads((entry.path / "results.json").read_text(encoding="utf-8"))
    assert entry.path == result.run_dir / "b" / "t"
    assert entry.scores["bleu"].score == on_disk["scores"]["bleu"]["score"]
    assert entry.scores["chrf"].signature == on_disk["scores"]["chrf"]["signature"]
    assert entry.scores["bleu"].ci95 == tuple(on_disk["scores"]["bleu"]["ci95"])
    assert on_disk["model"]["config"]["num_beams"] == 2  # the override reached the model
    assert entry.segments == 3 and entry.translated_segments == 3
    assert entry.validity["total_segments"] == 3 and "truncated" in entry.validity["counts"]
    assert entry.significance is not None  # tested against the baseline
    as_json = json.loads(json.dumps(result.to_dict()))
    assert as_json["results"][1]["scores"]["chrf"]["score"] == entry.scores["chrf"].score
    assert "INFO:" not in capsys.readouterr().err  # quiet unless asked
    with pytest.raises(KeyError, match="no result for"):
        result[("c", "t")]


def test_evaluate_a_path_logs_when_asked_and_raises_on_bad_config(tmp_path, tiny_marian, capsys):
    import yaml

    config = _notebook_config(tmp_path, tiny_marian)
    config["models"] = config["models"][:1]
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    result = harness.evaluate(path, ["models.0.batch_size=2"], log_level="INFO")
    err = capsys.readouterr().err
    assert "INFO: translating t with a (3 segments: 0 from the cache, 3 to translate)" in err
    again = harness.evaluate(str(path), verbose=True)
    assert again[0].cached_segments == 3 and again[0].translated_segments == 0
    assert again[0].scores["bleu"].score == result[0].scores["bleu"].score
    with pytest.raises(harness.errors.ConfigError, match="unknown key models"):
        harness.evaluate(path, ["models.0.beams=2"])
    with pytest.raises(harness.errors.ConfigError, match="config file not found"):
        harness.evaluate(tmp_path / "missing.yaml")

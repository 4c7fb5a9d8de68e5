from __future__ import annotations

import csv
import io
import json

import pytest

from harness import store
from harness.errors import HarnessError, RunFolderError
from harness.report.tables import build_table, render_table
from harness.store import find_result_leaves


def write_leaf(root, model, dataset, scores):
    leaf = root / model / dataset
    store.write_json_atomic(
        leaf / "results.json",
        {
            "schema_version": store.SCHEMA_VERSION,
            "model": {"name": model},
            "dataset": {"name": dataset},
            "scores": scores,
        },
    )
    return leaf


@pytest.fixture
def two_runs(tmp_path):
    sig = "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0|textnorm:nfc"
    a = tmp_path / "run-a"
    write_leaf(
        a, "sys-a", "ds1", {"bleu": {"score": 30.04, "ci95": [29.0, 31.2], "signature": sig}}
    )
    write_leaf(a, "sys-a", "ds2", {"bleu": {"score": 10.0, "signature": sig}})
    b = tmp_path / "run-b"
    write_leaf(
        b, "sys-b", "ds1", {"bleu": {"score": 35.5, "signature": sig}, "chrf": {"score": 55.25}}
    )
    return a, b


def test_markdown_rows_models_columns_dataset_metric(two_runs):
    table = build_table(find_result_leaves(list(two_runs)))
    text = render_table(table, "markdown")
    lines = text.splitlines()
    assert lines[0] == "| model | ds1 BLEU | ds2 BLEU | ds1 chrF |"
    assert lines[2] == "| sys-a | 30.0 ± 1.1 | 10.0 | – |"
    assert lines[3] == "| sys-b | 35.5 | – | 55.2 |"
    assert "`nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0|textnorm:nfc`" in text


def test_csv_and_json_carry_full_precision(two_runs):
    table = build_table(find_result_leaves(list(two_runs)))
    rows = list(csv.DictReader(io.StringIO(render_table(table, "csv"))))
    assert [(r["model"], r["dataset"], r["metric"], r["score"]) for r in rows] == [
        ("sys-a", "ds1", "bleu", "30.0400"),
        ("sys-a", "ds2", "bleu", "10.0000"),
        ("sys-b", "ds1", "bleu", "35.5000"),
        ("sys-b", "ds1", "chrf", "55.2500"),
    ]
    data = json.loads(render_table(table, "json"))
    assert data[0]["plus_minus"] == pytest.approx(1.1)


def test_latex_escapes(two_runs):
    text = render_table(build_table(find_result_leaves(list(two_runs))), "latex")
    assert "\\begin{tabular}{lrrr}" in text and "30.0 $\\pm$ 1.1" in text


def test_metric_filter(two_runs):
    table = build_table(find_result_leaves(list(two_runs)), metrics=["chrf"])
    assert [(c.dataset, c.metric) for c in table.columns] == [("ds1", "chrf")]


def test_same_result_twice_is_an_error(two_runs):
    a, _ = two_runs
    with pytest.raises(HarnessError, match="appears twice"):
        build_table(find_result_leaves([a, a]))


def test_missing_or_foreign_folders(tmp_path):
    with pytest.raises(RunFolderError, match="run folder not found"):
        find_result_leaves([tmp_path / "nope"])
    with pytest.raises(RunFolderError, match="not a finished run folder"):
        find_result_leaves([tmp_path])
    (tmp_path / "results.json").write_text('{"schema_version": 99}', encoding="utf-8")
    with pytest.raises(RunFolderError, match="schema_version 99"):
        find_result_leaves([tmp_path])


def test_atomic_writes_leave_no_temp_files(tmp_path):
    store.write_lines_atomic(tmp_path / "h.txt", ["a", "b\nc", ""])
    assert (tmp_path / "h.txt").read_text(encoding="utf-8") == "a\nb c\n\n"
    assert [p.name for p in tmp_path.iterdir()] == ["h.txt"]


def test_written_files_get_the_usual_mode(tmp_path):
    import os

    umask = os.umask(0o022)
    try:
        store.write_text_atomic(tmp_path / "a.txt", "x")
    finally:
        os.umask(umask)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o644


def test_same_model_from_two_runs_is_labelled_by_run(tmp_path):
    for run in ("greedy", "beam4"):
        leaf = write_leaf(tmp_path / run, "m", "ds", {"bleu": {"score": 1.0}})
        results = json.loads((leaf / "results.json").read_text())
        store.write_json_atomic(leaf / "results.json", {**results, "run": run})
    table = build_table(find_result_leaves([tmp_path / "greedy", tmp_path / "beam4"]))
    assert table.models == ["greedy/m", "beam4/m"]


def test_differing_signatures_are_listed_per_dataset(tmp_path):
    one, two = "nrefs:1|tok:13a", "nrefs:2|tok:13a"
    write_leaf(tmp_path, "m", "ds1", {"bleu": {"score": 1.0, "signature": one}})
    write_leaf(tmp_path, "m", "ds2", {"bleu": {"score": 2.0, "signature": two}})
    text = render_table(build_table(find_result_leaves([tmp_path])), "markdown")
    assert "- BLEU on ds1 (rows: m): `nrefs:1|tok:13a`" in text
    assert "- BLEU on ds2 (rows: m): `nrefs:2|tok:13a`" in text


def test_html_report_is_self_contained(two_runs):
    from html.parser import HTMLParser

    from harness.report.html import render_html

    leaves = find_result_leaves(list(two_runs))
    page = render_html(build_table(leaves), leaves)
    tags: list[str] = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag, attrs):
            tags.append(tag)
            for name, value in attrs:
                assert not (name in ("src", "href") and value and "://" in value), value

    Collect().feed(page)
    assert tags.count("svg") == 2  # one grouped chart per metric (datasets x systems)
    assert tags.count("script") == 2  # the segment data (JSON) and the report's own script
    assert "30.0 ± 1.1" in page and "Provenance" in page


def _two_differently_scored_runs(tmp_path, tiny_marian):
    """Bug 1: run A on the sample; run B on two of its segments with tone marks normalized."""
    from test_cli import write_config

    from harness.cli import main

    a = write_config(tmp_path / "a", tiny_marian, name="A")
    b = write_config(
        tmp_path / "b",
        tiny_marian,
        name="B",
        datasets=[{"benchmark": "itu-wtisd-2021", "limit": 2}],
        normalize={"tone_marks": "hoà"},
    )
    assert main(["run", str(a), "-q"]) == 0
    assert main(["run", str(b), "-q"]) == 0
    return tmp_path / "a" / "runs" / "A", tmp_path / "b" / "runs" / "B"


def test_table_refuses_scores_on_other_data_or_settings_in_one_column(
    tmp_path, tiny_marian, capsys
):
    from harness.cli import main

    run_a, run_b = _two_differently_scored_runs(tmp_path, tiny_marian)
    capsys.readouterr()
    for command in ("table", "compare"):
        for fmt in (
            ("markdown", "csv", "json", "latex", "html") if command == "table" else ("markdown",)
        ):
            assert main([command, str(run_a), str(run_b), "--format", fmt]) == 2
            err = capsys.readouterr().err
            assert "segments: 5 vs 2" in err, (command, fmt, err)
            assert str(run_a) in err and str(run_b) in err and "--allow-mismatch" in err
    assert main(["table", str(run_a), str(run_b), "--allow-mismatch"]) == 0
    out = capsys.readouterr().out
    header = out.splitlines()[0]
    assert "itu-wtisd-2021 [5 segments, textnorm:nfc] BLEU ≠" in header
    assert "itu-wtisd-2021 [2 segments, textnorm:nfc+tone:hoà] BLEU ≠" in header
    assert "- BLEU on itu-wtisd-2021 [2 segments, textnorm:nfc+tone:hoà] (rows: B/tiny)" in out
    assert "do not compare them" in out
    # Each legend line names the rows (here the same model name from two runs: run/model).
    rows = list(csv.DictReader(io.StringIO(_run_table([run_a, run_b], "csv"))))
    assert {r["variant"] for r in rows} == {
        "[5 segments, textnorm:nfc]",
        "[2 segments, textnorm:nfc+tone:hoà]",
    }


def _run_table(runs, fmt):
    return render_table(build_table(find_result_leaves(runs), allow_mismatch=True), fmt)


def test_every_signature_is_a_list_of_distinct_keys(tmp_path, tiny_marian):
    from harness.report.scored_as import signature_pairs

    _, run_b = _two_differently_scored_runs(tmp_path, tiny_marian)
    results = json.loads(next(run_b.rglob("results.json")).read_text(encoding="utf-8"))
    for metric, record in results["scores"].items():
        for key in ("signature", "raw_signature"):
            parts = record[key].split("|")
            names = [part.partition(":")[0] for part in parts]
            assert all(":" in part for part in parts), (metric, record[key])
            assert len(names) == len(set(names)), (metric, record[key])
            assert signature_pairs(record[key])["textnorm"].startswith("nfc")


def test_raw_score_is_shown_only_where_it_differs():
    from harness.report.tables import Cell

    assert Cell(score=30.04, raw_score=30.01).text() == "30.0"
    assert Cell(score=30.04, raw_score=28.9).text() == "30.0 (raw 28.9)"


def test_each_metric_shows_its_own_decimals(tmp_path):
    """COMET's 0-1 scale would read 0.9 with BLEU's one decimal: it gets four, MetricX two."""
    sig = "comet:Unbabel/wmt22-comet-da@abc|encoder:xlm-roberta-large|nrefs:1|dtype:float32"
    scores = {
        "bleu": {"score": 30.04, "ci95": [29.0, 31.2], "signature": "b"},
        "comet": {"score": 0.853412, "ci95": [0.8411, 0.8651], "signature": sig},
        "metricx": {"score": 3.4567, "signature": "m"},
    }
    write_leaf(tmp_path / "run", "sys", "ds", scores)
    table = build_table(find_result_leaves([tmp_path / "run"]))
    row = render_table(table, "markdown").splitlines()[2]
    assert row == "| sys | 30.0 ± 1.1 | 0.8534 ± 0.0120 | 3.46 |"
    assert render_table(table, "markdown", digits=2).splitlines()[2] == (
        "| sys | 30.04 ± 1.10 | 0.85 ± 0.01 | 3.46 |"
    )
    assert "0.8534 $\\pm$ 0.0120" in render_table(table, "latex")

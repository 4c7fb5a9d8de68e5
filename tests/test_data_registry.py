"""The benchmark registry: the table `harness datasets` prints, and the local-file benchmarks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.data import list_benchmarks, load_dataset, parse_dataset_entry, render_benchmark_table
from harness.errors import ConfigError, DatasetError

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
EXPECTED = {
    "itu-wtisd-2021": 5,
    "iwslt15-en-vi:tst2012": 1553,
    "iwslt15-en-vi:tst2013": 1268,
    "flores200:dev": 997,
    "flores200:devtest": 1012,
    "opus100:test": 2000,
    "wmt24pp": 998,
    "phomt:test": 19151,
    "ntrex128": 1997,
}


def test_registry_lists_every_benchmark_with_size() -> None:
    infos = list_benchmarks()
    assert {i.name: i.size for i in infos} == EXPECTED
    assert all(i.license and i.origin and i.notes for i in infos)
    assert {i.name for i in infos if i.needs_path} == {"phomt:test", "ntrex128"}


def test_markdown_table(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path))  # an empty cache: nothing is "cached"
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HF_DATASETS_CACHE", raising=False)
    table = render_benchmark_table()
    lines = table.splitlines()
    assert lines[0] == "| name | segments | here | license | origin | notes |"
    assert lines[1] == "|---|---|---|---|---|---|"
    assert len(lines) == 2 + len(EXPECTED)
    assert (
        "| flores200:devtest | 1,012 | not cached | CC BY-SA 4.0 | openlanguagedata/flores_plus |"
        in table
    )
    assert all(line.count(" | ") == 5 for line in lines[2:])  # no cell breaks the columns


def test_text_and_json_tables() -> None:
    text = render_benchmark_table("text")
    assert text.splitlines()[0].split()[:5] == ["name", "segments", "here", "license", "origin"]
    assert "phomt:test" in text and "19,151" in text
    rows = json.loads(render_benchmark_table("json"))
    assert rows[0]["name"] == "itu-wtisd-2021" and rows[-1]["size"] == 1997
    with pytest.raises(ConfigError, match="unknown table format 'html'"):
        render_benchmark_table("html")


def test_the_table_says_which_benchmarks_load_offline_here(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HF_DATASETS_CACHE", raising=False)
    here = {r["name"]: r["here"] for r in json.loads(render_benchmark_table("json"))}
    assert here["itu-wtisd-2021"] == "bundled" and here["ntrex128"] == "needs path:"
    assert here["opus100:test"] == here["iwslt15-en-vi:tst2013"] == "not cached"
    (tmp_path / "hub" / "datasets--Helsinki-NLP--opus-100").mkdir(parents=True)  # hub cache
    (tmp_path / "datasets" / "IWSLT___mt_eng_vietnamese").mkdir(parents=True)  # datasets cache
    here = {r["name"]: r["here"] for r in json.loads(render_benchmark_table("json"))}
    assert here["opus100:test"] == here["iwslt15-en-vi:tst2013"] == "cached"
    assert here["flores200:dev"] == "not cached"


def _pair(folder: Path, en: str, vi: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / en).write_text("Hello.\nThank you.\n", "utf-8")
    (folder / vi).write_text("Xin chào.\nCảm ơn.\n", "utf-8")


@pytest.mark.parametrize(
    "layout",
    ["PhoMT/detokenization/test", "detokenization/test", "test", "."],
)
def test_phomt_layouts(tmp_path: Path, layout: str) -> None:
    _pair(tmp_path / layout, "test.en", "test.vi")
    cfg = parse_dataset_entry({"benchmark": "phomt:test", "path": "."})
    data = load_dataset(cfg, tmp_path)
    assert [s.references[0] for s in data.segments] == ["Xin chào.", "Cảm ơn."]
    assert data.provenance["benchmark"] == "phomt:test"
    assert data.provenance["source"]["path"].endswith(f"{layout}/test.en".replace("./", ""))


def test_phomt_wrong_folder(tmp_path: Path) -> None:
    cfg = parse_dataset_entry({"benchmark": "phomt:test", "path": "."})
    with pytest.raises(
        DatasetError, match=r"no PhoMT test files; expected detokenization/test/test\.en"
    ):
        load_dataset(cfg, tmp_path)


def test_ntrex_folder(tmp_path: Path) -> None:
    _pair(tmp_path / "ntrex", "newstest2019-src.eng.txt", "newstest2019-ref.vie.txt")
    data = load_dataset(parse_dataset_entry({"benchmark": "ntrex128", "path": "ntrex"}), tmp_path)
    assert [s.id for s in data.segments] == ["1", "2"]
    assert "expected 1997 segments (the full set), found 2" in data.report.notes


def test_bundled_sample_can_be_overridden_by_path(tmp_path: Path) -> None:
    (tmp_path / "doc.txt").write_text("Hello.\nXin chào.\n", "utf-8")
    data = load_dataset(
        parse_dataset_entry({"benchmark": "itu-wtisd-2021", "path": "doc.txt"}), tmp_path
    )
    assert [s.references for s in data.segments] == [("Xin chào.",)]


@pytest.mark.shared_data
def test_real_ntrex128() -> None:
    data = load_dataset(
        parse_dataset_entry({"benchmark": "ntrex128", "path": str(SHARED / "ntrex128")}), Path(".")
    )
    assert len(data.segments) == 1997 and data.report.unpaired == ()
    assert data.segments[0].source == "Welsh AMs worried about 'looking like muppets'"
    assert data.report.repairs["crlf"] == 2 * 1997  # both files have Windows line ends
    assert not any(n.startswith("expected") for n in data.report.notes)
    assert not any("Moses" in n for n in data.report.notes)  # natural text: no false alarm

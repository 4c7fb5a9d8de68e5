"""Dataset config models: the `kind` union, shorthands, and "did you mean"."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from harness.data.config import (
    BenchmarkDataset,
    DatasetEntry,
    FilesDataset,
    HFDataset,
    InterleavedDataset,
    TableDataset,
    default_name,
    parse_dataset_entry,
)
from harness.data.registry import BENCHMARKS
from harness.errors import ConfigError


@pytest.mark.parametrize("name", list(BENCHMARKS))
def test_bare_string_is_a_benchmark(name: str) -> None:
    cfg = parse_dataset_entry(name)
    assert isinstance(cfg, BenchmarkDataset) and cfg.benchmark == name
    assert default_name(cfg) == name


def test_mapping_with_benchmark_needs_no_kind() -> None:
    cfg = parse_dataset_entry({"benchmark": "ntrex128", "path": "data/ntrex", "limit": 5})
    assert isinstance(cfg, BenchmarkDataset) and cfg.path == "data/ntrex" and cfg.limit == 5


@pytest.mark.parametrize(
    ("typo", "suggestion"),
    [
        ("flores200", "'flores200:dev' or 'flores200:devtest'"),
        ("iwslt15-en-vi:tst2014", "'iwslt15-en-vi:tst2013' or 'iwslt15-en-vi:tst2012'"),
        ("itu-wtisd-2012", "'itu-wtisd-2021'"),
        ("ntrex", "'ntrex128'"),
    ],
)
def test_unknown_benchmark_suggests(typo: str, suggestion: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_dataset_entry(typo)
    message = str(err.value)
    assert f"unknown benchmark {typo!r}; did you mean {suggestion}?" in message
    assert "Value error" not in message  # pydantic's prefix is noise for a user


def test_unknown_benchmark_without_close_match_lists_all() -> None:
    with pytest.raises(
        ConfigError, match="known benchmarks: itu-wtisd-2021, iwslt15-en-vi:tst2012"
    ):
        parse_dataset_entry("zzzzzz")


def test_each_kind() -> None:
    assert isinstance(
        parse_dataset_entry({"kind": "interleaved", "path": "a.txt"}), InterleavedDataset
    )
    files = parse_dataset_entry({"kind": "files", "source": "a.en", "references": ["a.vi", "b.vi"]})
    assert isinstance(files, FilesDataset) and files.references == ["a.vi", "b.vi"]
    table = parse_dataset_entry({"kind": "table", "path": "t.tsv"})
    assert isinstance(table, TableDataset) and table.reference_columns == ["vi"]
    hf = parse_dataset_entry({"kind": "hf", "dataset": "x/y", "split": "test"})
    assert isinstance(hf, HFDataset) and hf.source_column == "translation.en"


def test_unknown_kind_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="does not match any of the expected tags"):
        parse_dataset_entry({"kind": "csv", "path": "a.csv"})


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            {"kind": "files", "source": "a.en", "references": []},
            "references: List should have at least 1",
        ),
        ({"kind": "files", "source": "a.en"}, "references: Field required"),
        ({"benchmark": "ntrex128", "limit": 0}, "limit: Input should be greater than 0"),
        ({"benchmark": "ntrex128", "limit": 5, "sample": 5}, "not both"),
        ({"kind": "hf", "split": "test"}, "exactly one of `dataset`"),
        ({"kind": "hf", "dataset": "a/b", "path": "c"}, "exactly one of `dataset`"),
        (
            {
                "kind": "hf",
                "dataset": "a/b",
                "config": "x",
                "join": {"source_config": "e", "reference_config": "v"},
            },
            "with `join`, name the configs",
        ),
        (
            {"kind": "table", "path": "t.tsv", "format": "xlsx"},
            "format: Input should be 'tsv', 'csv' or 'jsonl'",
        ),
    ],
)
def test_invalid_entries(entry: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_dataset_entry(entry)


def test_configs_are_frozen() -> None:
    cfg = parse_dataset_entry("itu-wtisd-2021")
    with pytest.raises(Exception, match="frozen"):
        cfg.limit = 3  # type: ignore[misc]


def test_dataset_entry_in_a_larger_model() -> None:
    class Run(BaseModel):
        datasets: list[DatasetEntry]

    run = Run.model_validate({"datasets": ["itu-wtisd-2021", {"benchmark": "wmt24pp"}]})
    assert [d.benchmark for d in run.datasets] == ["itu-wtisd-2021", "wmt24pp"]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("entry", "name"),
    [
        ({"kind": "files", "source": "data/test.en", "references": ["data/test.vi"]}, "test"),
        ({"kind": "table", "path": "x/my-set.tsv"}, "my-set"),
        ({"kind": "interleaved", "path": "doc.txt", "name": "doc-v2"}, "doc-v2"),
        (
            {"kind": "hf", "dataset": "Helsinki-NLP/opus-100", "config": "en-vi"},
            "Helsinki-NLP/opus-100:test",
        ),
        ({"kind": "hf", "path": "/data/saved", "split": "dev"}, "saved:dev"),
    ],
)
def test_default_names(entry: dict[str, object], name: str) -> None:
    assert default_name(parse_dataset_entry(entry)) == name


def test_join_from_yaml() -> None:
    import yaml

    text = (
        "kind: hf\ndataset: a/b\n"
        "join: {source_config: eng_Latn, reference_config: vie_Latn, key: id}\n"
    )
    cfg = parse_dataset_entry(yaml.safe_load(text))
    assert isinstance(cfg, HFDataset) and cfg.join is not None and cfg.join.key == "id"
    with pytest.raises(
        ConfigError, match=r"join: name the id column with `key:` \(YAML reads `on:` as true\)"
    ):
        parse_dataset_entry(yaml.safe_load(text.replace("key: id", "on: id")))

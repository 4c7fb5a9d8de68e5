"""Hugging Face sources and the hub benchmarks' mappings, on local copies with the same schema.

Nothing here reaches the hub: each benchmark's schema is rebuilt with ``Dataset.from_dict`` and
``save_to_disk`` (column names and nesting as the hub serves them), and each hub-only source is
checked to fail offline with a message that says what to do.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.data import load_dataset, parse_dataset_entry
from harness.errors import ConfigError, DatasetError

datasets = pytest.importorskip("datasets")

BOM = "\ufeff"
TST = [
    (
        BOM + "When I was little , I thought my country was the best .",
        BOM + "Khi tôi còn nhỏ , tôi nghĩ đất nước tôi là tốt nhất .",
    ),
    ("And I was very proud .", "Tôi đã rất tự hào ."),
    ("It &apos;s a &quot; song &quot; .", "Đó là một &quot; bài hát &quot; ."),
    ("", ""),  # the hub loader's empty trailing pair
]


def _translation(pairs: list[tuple[str, str]]) -> Any:
    features = datasets.Features({"translation": datasets.Translation(languages=["en", "vi"])})
    rows = [{"en": en, "vi": vi} for en, vi in pairs]
    return datasets.Dataset.from_dict({"translation": rows}, features=features)


def _flores_side(lang: str, texts: dict[int, str]) -> Any:
    iso, script = lang.split("_")
    n = len(texts)
    return datasets.Dataset.from_dict(
        {
            "id": list(texts),
            "iso_639_3": [iso] * n,
            "iso_15924": [script] * n,
            "glottocode": ["stan1293" if iso == "eng" else "viet1252"] * n,
            "text": list(texts.values()),
            "url": ["https://en.wikinews.org/wiki/x"] * n,
            "domain": ["wikinews"] * n,
            "topic": ["health"] * n,
            "has_image": [False] * n,
            "has_hyperlink": [False] * n,
            "last_updated": ["2.0"] * n,
        }
    )


@pytest.fixture(scope="module")
def hub_copies(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hub")
    # IWSLT/mt_eng_vietnamese as the hub serves it: validation is a copy of test.
    test = _translation(TST)
    train = _translation([("Hi .", "Chào .")])
    datasets.DatasetDict({"train": train, "validation": test, "test": test}).save_to_disk(
        root / "iwslt"
    )
    real12 = _translation([("This is tst2012 .", "Đây là tst2012 ."), ("", "")])
    datasets.DatasetDict({"train": train, "validation": real12, "test": test}).save_to_disk(
        root / "iwslt_fixed"
    )
    # FLORES+: one folder per language config, joined by id; vie_Latn in another order and
    # with one id that eng_Latn lacks.
    eng = {
        0: "On Monday, scientists announced a new test.",
        1: "It costs one dollar.",
        2: "Lead researchers said so.",
    }
    vie = {
        2: "Các nhà nghiên cứu chính cho biết như vậy.",
        0: "Hôm thứ Hai, các nhà khoa học công bố một xét nghiệm mới.",
        1: "Nó có giá một đô la.",
        9: "Câu thừa.",
    }
    for lang, texts in (("eng_Latn", eng), ("vie_Latn", vie)):
        side = _flores_side(lang, texts)
        datasets.DatasetDict({"dev": side, "devtest": side}).save_to_disk(root / "flores" / lang)
    # Helsinki-NLP/opus-100, config en-vi.
    opus = _translation(
        [("I love you.", "Anh yêu em."), ("See you tomorrow.", "Hẹn gặp lại ngày mai.")]
    )
    datasets.DatasetDict({"train": opus, "validation": opus, "test": opus}).save_to_disk(
        root / "opus"
    )
    # google/wmt24pp, config en-vi_VN: one split, post-edited `target`, flagged bad sources.
    wmt = datasets.Dataset.from_dict(
        {
            "lp": ["en-vi_VN"] * 3,
            "domain": ["news", "social", "speech"],
            "document_id": ["d1", "d2", "d3"],
            "segment_id": [1, 2, 3],
            "is_bad_source": [False, True, False],
            "source": ["Siso's depictions of land.", "lol ok", "Good evening everyone."],
            "target": ["Những mô tả về đất liền của Siso.", "lol được", "Chào buổi tối mọi người."],
            "original_target": ["Mô tả đất liền của Siso.", "lol ok", "Chào buổi tối cả nhà."],
        }
    )
    datasets.DatasetDict({"train": wmt}).save_to_disk(root / "wmt24pp")
    # A flat en/vi dataset saved as a single Dataset, and a plain data-file folder.
    datasets.Dataset.from_dict({"en": ["One.", "Two."], "vi": ["Một.", "Hai."]}).save_to_disk(
        root / "flat"
    )
    (root / "files").mkdir()
    (root / "files" / "test.jsonl").write_text(
        '{"en": "Yes.", "vi": "Vâng."}\n{"en": "No.", "vi": "Không."}\n', "utf-8"
    )
    return root


def bench(name: str, path: Path, **extra: object):
    return load_dataset(
        parse_dataset_entry({"benchmark": name, "path": str(path), **extra}), Path(".")
    )


def test_iwslt_hub_copy_tst2013(hub_copies: Path) -> None:
    data = bench("iwslt15-en-vi:tst2013", hub_copies / "iwslt")
    assert [s.id for s in data.segments] == ["0", "1", "2"]
    assert data.segments[0].source == "When I was little , I thought my country was the best ."
    report = data.report
    assert report.repairs["bom"] == 2  # kept by the hub loader in both first texts
    (tail,) = report.unpaired
    assert tail.reason == "empty pair at the end of the data (dropped)"
    assert tail.file is not None and tail.file.endswith(
        "(config 'iwslt2015-en-vi', split 'test') row 3"
    )
    notes = "\n".join(report.notes)
    assert "validation split is a copy of this test split (tst2013)" in notes
    assert "HTML escapes: &quot; x2" in notes
    assert data.provenance["validation_equals_test"] is True
    assert data.provenance["loaded_from"] == "disk" and data.provenance["split"] == "test"
    assert report.records_in == 4 == len(data.segments) + len(report.unpaired)


def test_iwslt_hub_copy_refuses_fake_tst2012(hub_copies: Path) -> None:
    with pytest.raises(
        DatasetError, match=r"validation split is a copy of the test split \(tst2013\).*tst2012\.en"
    ):
        bench("iwslt15-en-vi:tst2012", hub_copies / "iwslt")


def test_iwslt_real_tst2012_loads(hub_copies: Path) -> None:
    data = bench("iwslt15-en-vi:tst2012", hub_copies / "iwslt_fixed")
    assert [s.source for s in data.segments] == ["This is tst2012 ."]
    assert data.provenance["validation_equals_test"] is False
    assert data.provenance["split"] == "validation"


def test_flores_joins_by_id(hub_copies: Path) -> None:
    data = bench("flores200:devtest", hub_copies / "flores")
    assert [(s.id, s.references[0]) for s in data.segments] == [
        ("0", "Hôm thứ Hai, các nhà khoa học công bố một xét nghiệm mới."),
        ("1", "Nó có giá một đô la."),
        ("2", "Các nhà nghiên cứu chính cho biết như vậy."),
    ]
    (extra,) = data.report.unpaired
    assert "reference row with id '9' has no match" in extra.reason and extra.text == "Câu thừa."
    assert data.report.records_in == 4
    assert data.provenance["join"] == {
        "source_config": "eng_Latn",
        "reference_config": "vie_Latn",
        "key": "id",
    }
    assert "expected 1012 segments (the full set), found 3" in data.report.notes


def test_opus100(hub_copies: Path) -> None:
    data = bench("opus100:test", hub_copies / "opus")
    assert [(s.source, s.references) for s in data.segments] == [
        ("I love you.", ("Anh yêu em.",)),
        ("See you tomorrow.", ("Hẹn gặp lại ngày mai.",)),
    ]
    assert data.provenance["config"] == "en-vi"


def test_wmt24pp_uses_post_edits_and_reports_bad_sources(hub_copies: Path) -> None:
    data = bench("wmt24pp", hub_copies / "wmt24pp")
    assert [(s.id, s.references[0]) for s in data.segments] == [
        ("0", "Những mô tả về đất liền của Siso."),
        ("2", "Chào buổi tối mọi người."),
    ]
    (bad,) = data.report.unpaired
    assert bad.reason.startswith("excluded because is_bad_source is true") and bad.text == "lol ok"
    assert data.report.records_in == 3


def test_hf_kind_single_saved_dataset_with_flat_columns(hub_copies: Path) -> None:
    cfg = parse_dataset_entry(
        {
            "kind": "hf",
            "path": str(hub_copies / "flat"),
            "source_column": "en",
            "reference_columns": ["vi"],
        }
    )
    data = load_dataset(cfg, Path("."))
    assert [(s.source, s.references) for s in data.segments] == [
        ("One.", ("Một.",)),
        ("Two.", ("Hai.",)),
    ]
    assert data.name == "flat:test"


def test_hf_kind_local_data_file_folder(hub_copies: Path) -> None:
    cfg = parse_dataset_entry(
        {"kind": "hf", "path": "files", "source_column": "en", "reference_columns": "vi"}
    )
    data = load_dataset(cfg, hub_copies)
    assert [s.references[0] for s in data.segments] == ["Vâng.", "Không."]
    assert data.provenance["loaded_from"] == "folder"


def test_hf_kind_exclude_if_and_id_column(hub_copies: Path) -> None:
    cfg = parse_dataset_entry(
        {
            "kind": "hf",
            "path": str(hub_copies / "wmt24pp"),
            "split": "train",
            "source_column": "source",
            "reference_columns": ["target", "original_target"],
            "id_column": "document_id",
            "exclude_if": ["is_bad_source"],
        }
    )
    data = load_dataset(cfg, Path("."))
    assert [s.id for s in data.segments] == ["d1", "d3"]
    assert data.segments[1].references == ("Chào buổi tối mọi người.", "Chào buổi tối cả nhà.")


def test_missing_split_lists_splits(hub_copies: Path) -> None:
    cfg = parse_dataset_entry({"kind": "hf", "path": str(hub_copies / "opus"), "split": "dev"})
    with pytest.raises(DatasetError, match=r"has no split 'dev'.*splits: train, validation, test"):
        load_dataset(cfg, Path("."))


def test_missing_column_lists_dotted_columns(hub_copies: Path) -> None:
    cfg = parse_dataset_entry(
        {"kind": "hf", "path": str(hub_copies / "opus"), "reference_columns": ["translation.vie"]}
    )
    with pytest.raises(
        DatasetError,
        match=r"reference_columns\[0\] names column 'translation\.vie'.*"
        r"columns: translation\.en, translation\.vi",
    ):
        load_dataset(cfg, Path("."))


def test_missing_folder(tmp_path: Path) -> None:
    cfg = parse_dataset_entry({"kind": "hf", "path": "nothing-here"})
    with pytest.raises(DatasetError, match="nothing-here: folder not found"):
        load_dataset(cfg, tmp_path)


@pytest.mark.parametrize(
    ("name", "hub_id"),
    [
        ("iwslt15-en-vi:tst2013", "IWSLT/mt_eng_vietnamese"),
        ("iwslt15-en-vi:tst2012", "IWSLT/mt_eng_vietnamese"),
        ("flores200:dev", "openlanguagedata/flores_plus"),
        ("flores200:devtest", "openlanguagedata/flores_plus"),
        ("opus100:test", "Helsinki-NLP/opus-100"),
        ("wmt24pp", "google/wmt24pp"),
    ],
)
def test_hub_benchmarks_fail_offline_with_advice(name: str, hub_id: str, tmp_path: Path) -> None:
    cfg = parse_dataset_entry({"benchmark": name, "cache_dir": str(tmp_path)})
    with pytest.raises(DatasetError) as err:
        load_dataset(cfg, Path("."))
    message = str(err.value)
    assert f"dataset {hub_id!r}" in message
    assert "is not in the local cache and the hub cannot be reached" in message
    assert "HF_HUB_OFFLINE or HF_DATASETS_OFFLINE is set" in message
    assert "`save_to_disk`" in message and "`path:`" in message


def test_hf_kind_hub_id_fails_offline(tmp_path: Path) -> None:
    cfg = parse_dataset_entry(
        {"kind": "hf", "dataset": "someone/some-set", "cache_dir": str(tmp_path)}
    )
    with pytest.raises(
        DatasetError,
        match="dataset 'someone/some-set' \\(split 'test'\\) is not in the local cache",
    ):
        load_dataset(cfg, Path("."))


def test_gated_and_script_errors_are_translated() -> None:
    from datasets.exceptions import DatasetNotFoundError

    from harness.data.hf import Location, _guard

    loc = Location(dataset="openlanguagedata/flores_plus")

    def gated() -> None:  # the exception datasets raises for a gated repo without access
        raise DatasetNotFoundError(
            "Dataset 'openlanguagedata/flores_plus' is a gated dataset on the Hub. "
            "You must be authenticated to access it."
        )

    with pytest.raises(
        DatasetError,
        match=r"is gated on the hub: accept its terms at "
        r"https://huggingface.co/datasets/openlanguagedata/flores_plus.*`hf auth login`",
    ):
        _guard(gated, "dataset 'openlanguagedata/flores_plus'", loc)

    def script() -> None:
        raise RuntimeError("Dataset scripts are no longer supported, but found flores.py")

    with pytest.raises(
        DatasetError, match="needs a loading script, which datasets>=4 no longer runs"
    ):
        _guard(script, "dataset 'facebook/flores'", Location(dataset="facebook/flores"))


def test_non_redistributable_benchmarks_need_a_path() -> None:
    for name in ("phomt:test", "ntrex128"):
        with pytest.raises(
            ConfigError, match=f"benchmark {name!r} is read from local files.*give `path:`"
        ):
            load_dataset(parse_dataset_entry(name), Path("."))


def test_importing_the_data_layer_does_not_import_datasets() -> None:
    code = "import sys, harness.data, harness.data.config; print('datasets' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_join_refuses_duplicate_ids(tmp_path: Path) -> None:
    _flores_side("eng_Latn", {0: "One.", 1: "Two."}).save_to_disk(tmp_path / "eng_Latn")
    vie = _flores_side("vie_Latn", {0: "Một.", 1: "Hai."})
    vie = vie.map(lambda row: {"id": 0})  # both rows now claim id 0
    vie.save_to_disk(tmp_path / "vie_Latn")
    with pytest.raises(DatasetError, match=r"vie_Latn.*row 1: id '0' occurs twice"):
        bench("flores200:dev", tmp_path)


def test_join_missing_reference_column_names_the_key(hub_copies: Path) -> None:
    cfg = parse_dataset_entry(
        {
            "kind": "hf",
            "path": str(hub_copies / "flores"),
            "split": "dev",
            "source_column": "text",
            "reference_columns": ["sentence"],
            "join": {"source_config": "eng_Latn", "reference_config": "vie_Latn"},
        }
    )
    with pytest.raises(
        DatasetError,
        match=r"vie_Latn.*reference_columns\[0\] names column 'sentence'.*columns: id, iso_639_3",
    ):
        load_dataset(cfg, Path("."))

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config import (
    apply_override,
    load_config,
    resolve_model_path,
    slug,
    validate_config,
)
from harness.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]


def minimal(**extra):
    return {"name": "t", "datasets": ["itu-wtisd-2021"], "models": [{"model": "m"}], **extra}


def error_of(data, overrides=()):
    with pytest.raises(ConfigError) as info:
        validate_config(data, overrides)
    return str(info.value)


def test_shipped_configs_validate():
    for path in sorted((REPO / "configs").glob("*.yaml")):
        resolved = load_config(path)
        assert resolved.config.name == path.stem


def test_defaults_and_shorthands():
    cfg = validate_config(minimal()).config
    assert cfg.metric_names == ["bleu", "chrf", "chrf++", "ter"]
    assert cfg.datasets[0].kind == "benchmark"
    assert cfg.models[0].backend == "hf"
    assert cfg.models[0].num_beams == 1  # greedy unless asked
    assert cfg.statistics.bootstrap_resamples == 1000


def test_misspelled_key_names_path_and_suggests():
    msg = error_of(minimal(models=[{"model": "m", "batch_sise": 4}]))
    assert "unknown key models[0].batch_sise; did you mean 'batch_size'?" in msg


def test_misspelled_top_level_key():
    msg = error_of(minimal(metrcs=["bleu"]))
    assert "unknown key metrcs; did you mean 'metrics'?" in msg


def test_misspelled_key_inside_dataset_union():
    data = minimal(datasets=[{"kind": "files", "sourc": "a.en", "references": ["a.vi"]}])
    msg = error_of(data)
    assert "unknown key datasets[0].sourc; did you mean 'source'?" in msg


def test_unknown_kind_suggests():
    msg = error_of(minimal(datasets=[{"kind": "fils", "source": "a", "references": ["b"]}]))
    assert "datasets[0]" in msg and "did you mean 'files'?" in msg


def test_unknown_metric():
    msg = error_of(minimal(metrics=["bleu", "comett"]))
    assert "metrics[1]" in msg
    assert "did you mean 'comet'" in msg


def test_metric_names_are_case_insensitive():
    assert validate_config(minimal(metrics=["BLEU", "chrF++"])).config.metric_names == [
        "bleu",
        "chrf++",
    ]


def test_duplicate_model_names_rejected():
    msg = error_of(minimal(models=[{"model": "a/m"}, {"model": "a/m"}]))
    assert "models[1]" in msg and "distinct `name:`" in msg


def test_baseline_must_be_a_model():
    msg = error_of(minimal(statistics={"baseline": "nope"}))
    assert "statistics.baseline 'nope'" in msg


def test_overrides_parse_yaml_values():
    cfg = validate_config(
        minimal(), ["models[0].batch_size=3", "models.0.num_beams=4", "metrics=[bleu]", "name=x"]
    ).config
    assert cfg.models[0].batch_size == 3 and cfg.models[0].num_beams == 4
    assert cfg.metric_names == ["bleu"] and cfg.name == "x"


def test_override_errors():
    with pytest.raises(ConfigError, match=r"expected key\.path=value"):
        apply_override({}, "nokey")
    with pytest.raises(ConfigError, match=r"models.3 does not exist \(1 items there\)"):
        apply_override(minimal(), "models.3.batch_size=1")
    msg = error_of(minimal(), ["models.0.batch_size=zero"])
    assert "models[0].batch_size" in msg


def test_override_creates_nested_mapping():
    data = minimal()
    apply_override(data, "normalize.tone_marks=hòa")
    assert validate_config(data).config.normalize.spec().tag == "nfc+tone:hòa"


def test_config_is_frozen():
    cfg = validate_config(minimal()).config
    with pytest.raises(Exception):  # noqa: B017 - pydantic raises ValidationError on frozen set
        cfg.name = "other"  # type: ignore[misc]


def test_yaml_errors_name_file_and_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\ndatasets: [a\nmodels: []\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad\.yaml:\d+:\d+: invalid YAML"):
        load_config(path)


def test_yaml_tags_that_run_code_are_refused(tmp_path):
    path = tmp_path / "evil.yaml"
    path.write_text("name: !!python/object/apply:os.system ['true']\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_config(path)


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "none.yaml")


def test_top_level_must_be_mapping(tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_config(path)


def test_slug():
    assert slug("Helsinki-NLP/opus-mt-en-vi") == "Helsinki-NLP--opus-mt-en-vi"
    assert slug("iwslt15-en-vi:tst2013") == "iwslt15-en-vi-tst2013"
    assert slug("a b/c") == "a_b--c"


def test_resolve_model_path(tmp_path):
    (tmp_path / "models" / "m").mkdir(parents=True)
    assert resolve_model_path("Helsinki-NLP/opus-mt-en-vi", tmp_path) == (
        "Helsinki-NLP/opus-mt-en-vi"
    )
    assert resolve_model_path("models/m", tmp_path) == str(tmp_path / "models" / "m")
    assert resolve_model_path("./missing", tmp_path) == str(tmp_path / "missing")
    assert resolve_model_path("/abs/path", tmp_path) == "/abs/path"


def test_decomposed_tone_style_name_is_accepted():
    import unicodedata

    nfd = unicodedata.normalize("NFD", "hòa")
    assert (
        validate_config(minimal(normalize={"tone_marks": nfd})).config.normalize.tone_marks == "hòa"
    )

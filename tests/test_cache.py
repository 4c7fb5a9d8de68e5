from __future__ import annotations

import sqlite3

import pytest

from harness.cache import TranslationCache
from harness.errors import HarnessError


def test_roundtrip_and_persistence(tmp_path):
    path = tmp_path / "c.sqlite"
    with TranslationCache(path) as cache:
        cache.put_many("k", [("Hello", "Xin chào"), ("Bye", "Tạm biệt")])
    with TranslationCache(path) as cache:  # a new process would see the same rows
        assert cache.get_many("k", ["Bye", "Hello", "Missing"]) == {
            "Bye": "Tạm biệt",
            "Hello": "Xin chào",
        }
        assert cache.get_many("other-key", ["Hello"]) == {}
        assert cache.count("k") == 2


def test_many_sources_exceed_sqlite_parameter_limit(tmp_path):
    sources = [f"sentence {i}" for i in range(1234)]
    with TranslationCache(tmp_path / "c.sqlite") as cache:
        cache.put_many("k", [(s, s.upper()) for s in sources])
        found = cache.get_many("k", sources)
    assert len(found) == 1234 and found["sentence 999"] == "SENTENCE 999"


def test_failed_batch_is_rolled_back(tmp_path):
    with TranslationCache(tmp_path / "c.sqlite") as cache:
        cache.put_many("k", [("a", "A")])
        with pytest.raises(sqlite3.Error):
            cache.put_many("k", [("b", "B"), ("c", None)])  # type: ignore[list-item]
        assert cache.get_many("k", ["a", "b", "c"]) == {"a": "A"}


def test_provenance_roundtrip(tmp_path):
    with TranslationCache(tmp_path / "c.sqlite") as cache:
        assert cache.get_provenance("k") is None
        cache.put_provenance("k", {"model": "m", "parameters": 12})
        assert cache.get_provenance("k") == {"model": "m", "parameters": 12}


def test_corrupt_cache_file_is_a_clear_error(tmp_path):
    path = tmp_path / "c.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(HarnessError, match="--no-cache"):
        TranslationCache(path)


def test_cache_info_lists_translators_and_clear_removes_them(tmp_path, tiny_marian, capsys):
    import json

    from test_cli import write_config

    from harness.cli import main

    cache_dir = tmp_path / "cache"
    config = write_config(tmp_path, tiny_marian, cache_dir=str(cache_dir))
    assert main(["run", str(config), "-q"]) == 0
    assert main(["run", str(config), "-q", "--set", "models.0.num_beams=2"]) == 0
    capsys.readouterr()
    assert main(["cache", "info", "--cache-dir", str(cache_dir), "--format", "json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["bytes"] > 0 and len(info["translators"]) == 2
    for group in info["translators"]:
        assert group["rows"] == 5 and group["labels"] == ["tiny"]
        assert group["model"] == str(tiny_marian)
        assert group["identity"]["versions"]["harness"]
    beams = sorted(g["identity"]["settings"]["num_beams"] for g in info["translators"])
    assert beams == [1, 2]
    assert main(["cache", "info", "--cache-dir", str(cache_dir)]) == 0
    text = capsys.readouterr().out
    assert "10 translations from 2 translator(s)" in text and "num_beams=2" in text
    assert main(["cache", "clear", "--cache-dir", str(cache_dir), "--model", "nope"]) == 2
    assert "no cached translations of a model called 'nope'" in capsys.readouterr().err
    assert main(["cache", "clear", "--cache-dir", str(cache_dir), "--older-than", "1"]) == 0
    assert "deleted 0" in capsys.readouterr().out
    assert main(["cache", "clear", "--cache-dir", str(cache_dir), "--model", "tiny"]) == 0
    assert "deleted 10" in capsys.readouterr().out
    assert main(["cache", "info", "--cache-dir", str(cache_dir)]) == 0
    assert "0 translations from 0 translator(s)" in capsys.readouterr().out
    assert main(["cache", "info", "--cache-dir", str(tmp_path / "none")]) == 2


def test_cache_info_and_clear_cover_metric_statistics(tmp_path, tiny_marian, capsys):
    import json

    from test_cli import write_config

    from harness.cli import main

    cache_dir = tmp_path / "cache"
    config = write_config(tmp_path, tiny_marian, cache_dir=str(cache_dir))
    assert main(["run", str(config), "-q"]) == 0
    capsys.readouterr()
    assert main(["cache", "info", "--cache-dir", str(cache_dir), "--format", "json"]) == 0
    stats = json.loads(capsys.readouterr().out)["metric_stats"]
    names = sorted(g["name"] for g in stats["metrics"])
    assert names and stats["bytes"] > 0
    assert all(g["rows"] == 5 for g in stats["metrics"])
    assert all("version:" in g["signature"] for g in stats["metrics"])
    assert main(["cache", "info", "--cache-dir", str(cache_dir)]) == 0
    text = capsys.readouterr().out
    assert "5 translations from 1 translator(s)" in text
    assert f"{5 * len(names)} segment statistics rows from {len(names)} metric" in text
    # A signature's "|" would end the markdown cell: escaped.
    assert "`nrefs:1\\|case:mixed" in text
    assert main(["cache", "clear", "--cache-dir", str(cache_dir), "--metric", "bleu"]) == 2
    assert "--metric goes with --metric-stats" in capsys.readouterr().err
    argv = ["cache", "clear", "--cache-dir", str(cache_dir), "--metric-stats"]
    assert main([*argv, "--metric", "nope"]) == 2
    assert "no cached statistics of a metric called 'nope'" in capsys.readouterr().err
    leaves = _leaf_rows(cache_dir)
    assert leaves == 1  # the run's one leaf, remembered
    assert main([*argv, "--metric", names[0]]) == 0
    assert "deleted 5 cached statistics row(s)" in capsys.readouterr().out
    assert _leaf_rows(cache_dir) == 0  # its numbers held that metric's: gone with it
    assert main(argv) == 0
    assert f"deleted {5 * (len(names) - 1)} cached" in capsys.readouterr().out
    assert main(["cache", "info", "--cache-dir", str(cache_dir)]) == 0
    text = capsys.readouterr().out
    assert "5 translations" in text and "0 segment statistics rows" in text
    # The translations were left alone, and a rerun fills the statistics again.
    assert main(["run", str(config), "-q"]) == 0
    capsys.readouterr()
    assert main(["cache", "info", "--cache-dir", str(cache_dir), "--format", "json"]) == 0
    again = json.loads(capsys.readouterr().out)["metric_stats"]["metrics"]
    assert sorted(g["name"] for g in again) == names
    assert _leaf_rows(cache_dir) == 1


def _leaf_rows(cache_dir):
    import sqlite3

    db = sqlite3.connect(cache_dir / "metric-stats.sqlite")
    try:
        return db.execute("SELECT COUNT(*) FROM leaf_scores").fetchone()[0]
    finally:
        db.close()

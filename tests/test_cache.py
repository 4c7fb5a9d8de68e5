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

"""backend: openai against a real HTTP server on 127.0.0.1 (tests/openai_server.py).

Through `harness run` (in-process, and once in a subprocess killed with SIGKILL and resumed):
outputs and their order, retries per reason, flags, the cache's resume, error messages and exit
codes, and that the fake key is written nowhere.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from email.utils import formatdate
from pathlib import Path

import pytest
import yaml
from openai_server import FakeOpenAIServer, expected_answer

from harness.cli import main
from harness.config import validate_config
from harness.errors import ConfigError
from harness.translators import IdentityContext, translator_identity
from harness.translators.base import BuildOptions
from harness.translators.openai_backend import OpenAITranslator, openai_identity
from harness.translators.openai_config import OpenAIModelConfig
from harness.translators.openai_limits import Failure, backoff_s, percentile, retry_after_s

REPO = Path(__file__).resolve().parents[1]
KEY_ENV = "HARNESS_TEST_OPENAI_KEY"
FAKE_KEY = "sk-fake-7f3c9a1e5b2d4c6e8f0a"  # must appear in no file the harness writes


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setenv(KEY_ENV, FAKE_KEY)
    with FakeOpenAIServer(api_key=FAKE_KEY) as srv:
        yield srv


def model_entry(server: FakeOpenAIServer, **extra) -> dict:
    return {
        "name": "api-model",
        "backend": "openai",
        "model": "test/model",
        "base_url": server.base_url,
        "api_key_env": KEY_ENV,
        "max_concurrency": 4,
        "timeout_s": 3.0,  # generous: a loaded CI machine must not time out a normal answer
        "max_retries": 3,
        **extra,
    }


def write_run(tmp_path: Path, server: FakeOpenAIServer, sources: list[str], **extra) -> Path:
    (tmp_path / "test.en").write_text("\n".join(sources) + "\n", encoding="utf-8")
    refs = [expected_answer(s) if s else "trống" for s in sources]
    (tmp_path / "test.vi").write_text("\n".join(refs) + "\n", encoding="utf-8")
    config = {
        "name": "api",
        "datasets": [{"kind": "files", "name": "t", "source": "test.en", "references": "test.vi"}],
        "models": [model_entry(server, **extra)],
        "metrics": ["chrf"],
        "statistics": {"bootstrap_resamples": 0},
        "output_dir": str(tmp_path / "runs"),
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def leaf(tmp_path: Path) -> Path:
    return tmp_path / "runs" / "api" / "api-model" / "t"


def results_of(tmp_path: Path) -> dict:
    return json.loads((leaf(tmp_path) / "results.json").read_text(encoding="utf-8"))


def hypotheses_of(tmp_path: Path) -> list[str]:
    return (leaf(tmp_path) / "hypotheses.txt").read_text(encoding="utf-8").split("\n")[:-1]


def cache_file() -> Path:
    return Path(os.environ["HARNESS_CACHE_DIR"]) / "translations.sqlite"


def cached_sources() -> set[str]:
    with sqlite3.connect(cache_file()) as db:
        return {row[0] for row in db.execute("SELECT source FROM translations")}


def assert_key_written_nowhere(*roots: Path) -> None:
    files = [p for root in roots for p in root.rglob("*") if p.is_file()]
    assert any(p.name.startswith("translations.sqlite") for p in files)
    for path in files:  # the SQLite file and its WAL included
        assert FAKE_KEY.encode() not in path.read_bytes(), path
        assert b"Bearer" not in path.read_bytes(), path


# --- config and identity -------------------------------------------------------------------


def test_config_names_defaults_and_errors():
    names = {
        "name", "backend", "model", "base_url", "api_key_env", "max_concurrency",
        "requests_per_minute", "timeout_s", "max_retries", "temperature", "seed",
        "max_new_tokens", "prompt", "price_per_million_tokens",
    }  # fmt: skip
    assert set(OpenAIModelConfig.model_fields) == names
    data = {"name": "t", "datasets": ["itu-wtisd-2021"], "models": [{"backend": "openai"}]}
    data["models"][0]["model"] = "gpt-4o-mini"
    cfg = validate_config(data).config.models[0]
    assert (cfg.base_url, cfg.api_key_env, cfg.max_concurrency) == (
        "https://api.openai.com/v1",
        "OPENAI_API_KEY",
        32,
    )
    assert (cfg.timeout_s, cfg.max_retries, cfg.temperature, cfg.max_new_tokens) == (120, 6, 0, 512)
    for url, says in [
        ("http://user:pw@localhost:8000/v1", "must not carry credentials"),
        ("https://host/v1?key=abc", "must not carry credentials"),
        ("localhost:8000/v1", "must be an http:// or https:// URL"),
    ]:
        data["models"][0]["base_url"] = url
        with pytest.raises(ConfigError, match=says) as info:
            validate_config(data)
        assert "models[0].base_url" in str(info.value)
    data["models"][0] = {"backend": "openai", "model": "m", "max_concurency": 4}
    with pytest.raises(ConfigError, match="did you mean 'max_concurrency'"):
        validate_config(data)


def _cache_key(cfg, few_shot=None):
    context = IdentityContext(base_dir=Path("."), config_key="models[0]", few_shot=few_shot)
    return translator_identity(cfg, context).key


def test_identity_has_what_changes_outputs_and_nothing_else(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    base = OpenAIModelConfig(backend="openai", model="m", base_url="http://h:8000/v1")
    ident = openai_identity(base, "fp")
    assert ident["endpoint"] == "h:8000/v1" and ident["few_shot_examples"] == "fp"
    assert ident["versions"]["harness"]
    assert FAKE_KEY not in json.dumps(ident)
    key = _cache_key(base)

    def changed(**update) -> bool:
        return _cache_key(base.model_copy(update=update)) != key

    # Speed, cost and where the key lives do not change a translation; the scheme does not
    # change which server answers.
    for update in [
        {"max_concurrency": 2},
        {"requests_per_minute": 10.0},
        {"timeout_s": 5.0},
        {"max_retries": 0},
        {"api_key_env": "OTHER"},
        {"name": "other-label"},
        {"base_url": "https://h:8000/v1"},
    ]:
        assert not changed(**update), update
    for update in [
        {"model": "m2"},
        {"base_url": "http://h:8001/v1"},
        {"base_url": "http://h:8000/v2"},
        {"temperature": 0.7},
        {"seed": 1},
        {"max_new_tokens": 64},
        {"prompt": base.prompt.model_copy(update={"system_prompt": "Be brief."})},
        {"prompt": base.prompt.model_copy(update={"instruction": "Dịch sang tiếng Việt."})},
    ]:
        assert changed(**update), update
    assert _cache_key(base, few_shot="a") != _cache_key(base, few_shot="b")


def test_retry_after_and_backoff():
    assert retry_after_s({"retry-after-ms": "250"}) == 0.25
    assert retry_after_s({"retry-after": "1.5"}) == 1.5
    assert 28 < retry_after_s({"retry-after": formatdate(time.time() + 30, usegmt=True)}) <= 30
    assert retry_after_s({"retry-after": "soon"}) is None and retry_after_s({}) is None
    plain = Failure("http 500", 500, True)
    assert [round(backoff_s(n, plain) / 2**n, 6) <= 0.5 for n in range(4)] == [True] * 4
    assert all(0.375 <= backoff_s(0, plain) <= 0.5 for _ in range(50))  # <= 25% jitter
    assert 6.0 <= backoff_s(10, plain) <= 8.0  # capped at 8 s
    assert backoff_s(3, Failure("http 429", 429, True, retry_after=0.3)) == 0.3
    assert percentile([3.0, 1.0, 2.0, 4.0], 0.5) == 2.5  # numpy.percentile([1,2,3,4], 50)
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.95) == pytest.approx(3.85)


# --- through `harness run` -----------------------------------------------------------------


def test_run_outputs_order_retries_flags_and_rerun(tmp_path, server, capsys):
    sources = [f"Sentence number {i}." for i in range(9)]
    faults = ["429", "500", "slow", "malformed", "length", "refusal", "content_filter"]
    for source, fault in zip(sources, faults, strict=False):
        server.faults[source] = [fault]
    server.retry_after_s, server.slow_s = 0.3, 4.0
    prices = {"input": 1, "output": 2}
    path = write_run(tmp_path, server, sources, timeout_s=1.0, price_per_million_tokens=prices)
    assert main(["run", str(path)]) == 0, capsys.readouterr().err
    expected = [expected_answer(s) for s in sources]
    expected[4] = expected[4][: len(expected[4]) // 2]  # finish_reason: length
    expected[5] = expected[6] = ""  # refused, filtered: no translation, flagged
    assert hypotheses_of(tmp_path) == expected
    results = results_of(tmp_path)
    ids = [s["id"] for s in map(json.loads, (leaf(tmp_path) / "segments.jsonl").open())]
    assert results["segment_flags"] == {
        "truncated": [ids[4]],
        "refusal": [ids[5]],
        "content_filter": [ids[6]],
    }
    model = results["model"]
    stats = model["throughput"]
    assert stats["retries_by_reason"] == {
        "http 429": 1,
        "http 500": 1,
        "timeout": 1,
        "malformed response": 1,
    }
    assert stats["requests"] == sum(server.requests.values()) == 9 + 4
    assert stats["segments"] == 9 and stats["latency_p50_s"] <= stats["latency_p95_s"]
    assert stats["input_tokens"] > 0 and stats["output_tokens"] > 0
    cost = (stats["input_tokens"] * 1 + stats["output_tokens"] * 2) / 1e6
    assert stats["cost"] == pytest.approx(cost)
    assert model["server"] == {
        "model_ids": ["test/model-2026-01-01"],
        "system_fingerprints": ["fp_test_1"],
    }
    assert model["endpoint"] == server.base_url.removeprefix("http://")
    first, retry = server.arrivals[sources[0]]
    assert retry - first >= 0.3  # Retry-After honoured
    # Every request carried the decoding settings and the prompt's instruction.
    assert {(b["temperature"], b["max_tokens"], b["n"]) for b in server.bodies} == {(0, 512, 1)}
    # A rerun is served from the cache: no request, same outputs, the flags remembered.
    before = sum(server.requests.values())
    assert main(["run", str(path)]) == 0
    assert sum(server.requests.values()) == before
    assert hypotheses_of(tmp_path) == expected
    rerun = results_of(tmp_path)
    assert rerun["segment_flags"] == results["segment_flags"]
    assert rerun["timing"]["cached_segments"] == 9 and rerun["model"]["throughput"] is None
    assert rerun["model"]["server"]["model_ids"] == ["test/model-2026-01-01"]
    assert_key_written_nowhere(tmp_path / "runs", cache_file().parent)


def test_wrong_key_stops_after_one_request_naming_the_variable(tmp_path, server, capsys):
    server.api_key = "sk-the-right-one"
    path = write_run(tmp_path, server, [f"s{i}" for i in range(20)], max_concurrency=8)
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err
    line = next(x for x in err.splitlines() if x.startswith("error: "))
    assert "HTTP 401" in line and f"set the environment variable {KEY_ENV}" in line
    assert "api-model" in line or "models[0]" in line
    assert server.received == 1  # the first request goes alone: one 401, not eight
    assert FAKE_KEY not in err


def test_missing_key_variable_is_a_config_error_before_any_request(
    tmp_path, server, capsys, monkeypatch
):
    monkeypatch.delenv(KEY_ENV)
    path = write_run(tmp_path, server, ["a", "b"])
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"error: models[0].api_key_env: environment variable {KEY_ENV} is not set" in err
    assert server.bodies == [] and not (tmp_path / "runs" / "api").exists()


def test_failure_after_retries_stops_with_everything_answered_cached(tmp_path, server, capsys):
    sources = [f"Line {i}" for i in range(12)]
    server.faults[sources[-1]] = ["500*"]
    path = write_run(tmp_path, server, sources, max_retries=2)
    assert main(["run", str(path)]) == 2
    err_lines = [x for x in capsys.readouterr().err.splitlines() if x.startswith("error: ")]
    assert len(err_lines) == 1
    line = err_lines[0]
    assert line.startswith("error: models[0] (test/model): segment '12' (#11 of t) failed")
    assert "after 2 retries: HTTP 500" in line and "rerun to resume" in line
    assert server.requests[sources[-1]] == 3
    assert server.answered == 11 and cached_sources() == set(sources[:-1])
    # The server recovers: a rerun asks only for what is missing.
    server.faults.clear()
    assert main(["run", str(path)]) == 0
    assert all(server.requests[s] == 1 for s in sources[:-1])
    assert hypotheses_of(tmp_path) == [expected_answer(s) for s in sources]


def test_concurrency_bound_and_rate_limit(server, tmp_path):
    server.delay_s = 0.05
    options = BuildOptions(cache_dir=tmp_path)
    cfg = OpenAIModelConfig(**model_entry(server, max_concurrency=4))
    translator = OpenAITranslator(cfg, options)
    sources = [f"c{i}" for i in range(24)] + ["  "]
    calls: list[tuple[list[int], list[str]]] = []
    outputs = translator.translate(sources, on_batch=lambda p, o: calls.append((list(p), list(o))))
    assert outputs == [expected_answer(s) for s in sources[:-1]] + [""]  # blank: no request
    assert server.max_in_flight == 4 and "  " not in server.requests
    # One on_batch per answer, as it arrived; the blank one first, without a request.
    assert calls[0] == ([24], [""]) and all(len(p) == 1 for p, _ in calls)
    assert sorted(p[0] for p, _ in calls) == list(range(25))
    translator.close()
    limited = OpenAITranslator(cfg.model_copy(update={"requests_per_minute": 600}), options)
    sources = [f"r{i}" for i in range(6)]
    started = time.monotonic()
    limited.translate(sources)
    # 600 a minute: one start every 0.1 s, so the 6th starts 0.5 s after the 1st (arrival
    # times at the server jitter by a few ms either way under load, hence the margin there).
    assert time.monotonic() - started >= 0.5
    starts = sorted(server.arrivals[s][0] for s in sources)
    assert starts[-1] - starts[0] >= 0.45
    assert max(b - a for a, b in itertools.pairwise(starts)) < 0.5
    limited.close()


def test_killed_run_resumes_without_asking_twice(tmp_path, server):
    sources = [f"Kill test sentence {i}." for i in range(20)]
    path = write_run(tmp_path, server, sources, max_concurrency=3)
    server.hold_after = 6  # then hold every request: the run is mid-way when killed
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness", "run", str(path)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while not (server.in_flight == 3 and cache_file().exists() and len(cached_sources()) == 6):
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline, "the run did not reach the held requests"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    done_before = cached_sources()
    held = {s for s in sources if server.requests[s] and s not in done_before}
    assert len(done_before) == 6 and len(held) == 3
    server.hold_after = None
    server.release.set()
    assert main(["run", str(path)]) == 0
    assert hypotheses_of(tmp_path) == [expected_answer(s) for s in sources]
    for source in sources:  # answered before the kill: never asked again
        assert server.requests[source] == (2 if source in held else 1), source
    assert_key_written_nowhere(tmp_path / "runs", cache_file().parent)

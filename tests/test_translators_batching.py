"""Batch planning, order restoration and translator config validation (no models)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from harness.errors import TranslatorError
from harness.translators import CT2ModelConfig, HFModelConfig, ModelConfig
from harness.translators.batching import BatchResult, RunSpec, plan_batches, run_batches

lengths_st = st.lists(st.integers(min_value=0, max_value=300), max_size=80)


@given(lengths_st, st.integers(1, 16), st.one_of(st.none(), st.integers(1, 400)))
def test_every_position_batched_once_within_limits(lengths, batch_size, max_tokens) -> None:
    batches = plan_batches(lengths, batch_size=batch_size, max_tokens=max_tokens)
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(len(lengths)))
    for batch in batches:
        assert 1 <= len(batch) <= batch_size
        width = max(max(lengths[i] for i in batch), 1)
        # Only a lone source may exceed the token budget (it cannot be split further).
        if max_tokens is not None and len(batch) > 1:
            assert width * len(batch) <= max_tokens
    # Longest first overall: lengths never increase along the planned order.
    along = [lengths[i] for i in flat]
    assert along == sorted(along, reverse=True)


def test_token_budget_splits_and_skip_leaves_positions_out() -> None:
    lengths = [10, 50, 10, 10, 50]
    assert plan_batches(lengths, batch_size=8) == [[1, 4, 0, 2, 3]]
    assert plan_batches(lengths, batch_size=8, max_tokens=100) == [[1, 4], [0, 2, 3]]
    assert plan_batches(lengths, batch_size=2, max_tokens=1000) == [[1, 4], [0, 2], [3]]
    assert plan_batches(lengths, batch_size=8, skip=[1, 3]) == [[4, 0, 2]]


@given(lengths_st.filter(bool), st.integers(1, 7))
def test_run_batches_restores_input_order(lengths, batch_size) -> None:
    batches = plan_batches(lengths, batch_size=batch_size)
    seen: list[int] = []

    def step(positions):
        seen.extend(positions)
        return BatchResult([f"out{p}" for p in positions], len(positions))

    calls = []
    outs, stats = run_batches(
        len(lengths), batches, step, lambda p, h: calls.append(p), RunSpec(progress=False)
    )
    assert outs == [f"out{i}" for i in range(len(lengths))]
    assert stats.segments == len(lengths) and stats.output_tokens == len(lengths)
    assert sorted(p for c in calls for p in c) == list(range(len(lengths)))


def test_run_batches_rejects_a_short_batch() -> None:
    def step(positions):
        return BatchResult(["only one"], 1)

    with pytest.raises(TranslatorError, match="a batch of 2 sources produced 1 outputs"):
        run_batches(2, [[0, 1]], step, None, RunSpec(progress=False))


def test_model_config_union_and_strictness() -> None:
    adapter = TypeAdapter(ModelConfig)
    assert isinstance(adapter.validate_python({"model": "x"}), HFModelConfig)
    ct2 = adapter.validate_python({"model": "x", "backend": "ctranslate2", "compute_type": "int8"})
    assert isinstance(ct2, CT2ModelConfig) and ct2.inter_threads is None
    with pytest.raises(ValidationError, match="unknown backend"):
        adapter.validate_python({"model": "x", "backend": "onnx"})
    with pytest.raises(ValidationError, match="Extra inputs"):
        adapter.validate_python({"model": "x", "backend": "ctranslate2", "dtype": "float16"})
    with pytest.raises(ValidationError, match="encoder-decoder models only"):
        adapter.validate_python({"model": "x", "backend": "ctranslate2", "preset": "causal-lm"})
    with pytest.raises(ValidationError):
        adapter.validate_python({"model": "x", "preset": "opus"})
    few = adapter.validate_python(
        {"model": "x", "prompt": {"few_shot": {"dataset": "flores200:dev", "n": 2}}}
    )
    assert few.prompt.few_shot.n == 2 and few.prompt.few_shot.dataset.kind == "benchmark"


def test_no_terminal_no_bar_and_no_log_lines_here(caplog) -> None:
    """Without a terminal the runner logs progress (it knows the cached count; see
    tests/test_progress.py); run_batches itself stays silent rather than log twice."""
    import logging

    caplog.set_level(logging.INFO)
    step = lambda pos: BatchResult(["x"] * len(pos), 3)  # noqa: E731
    outputs, _ = run_batches(4, [[0, 1], [2, 3]], step, None, RunSpec(label="m", progress=True))
    assert outputs == ["x"] * 4
    assert not [r for r in caplog.records if r.name.startswith("harness.translators")]


def test_ct2_thread_choice(monkeypatch) -> None:
    import os

    from harness.translators.ct2 import resolve_threads

    auto = CT2ModelConfig(backend="ctranslate2", model="x")
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(2)), raising=False)
    assert resolve_threads(auto, "cpu") == (2, 1)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(16)), raising=False)
    assert resolve_threads(auto, "cpu") == (4, 4)
    assert resolve_threads(auto, "cuda") == (1, 0)
    fixed = CT2ModelConfig(backend="ctranslate2", model="x", inter_threads=1, intra_threads=0)
    assert resolve_threads(fixed, "cpu") == (1, 0)


def test_progress_bar_on_a_terminal(monkeypatch) -> None:
    import io
    import sys

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    term = Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    step = lambda pos: BatchResult(["x"] * len(pos), 3)  # noqa: E731
    run_batches(4, [[0, 1], [2, 3]], step, None, RunSpec(label="demo", progress=True))
    shown = term.getvalue()
    assert "demo" in shown and "4/4" in shown and "seg" in shown


def test_importing_translators_stays_light() -> None:
    import subprocess
    import sys

    code = (
        "import sys, harness.translators, harness.translators.config, "
        "harness.translators.presets, harness.translators.batching; "
        "print([m for m in ('torch', 'transformers', 'ctranslate2', 'datasets') "
        "if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

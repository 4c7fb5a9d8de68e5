"""Test-wide set-up: no network, an isolated cache, and skips for shared data and GPUs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
# ../shared/data lies beside a developer's checkout and CI's clone, not in a user's clone.
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
FIXTURES = Path(__file__).resolve().parent / "fixtures"

# Set before any test module imports transformers/datasets/huggingface_hub, which read these
# at import time: nothing in the suite may try the hub.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Each test gets its own translation cache so that no test reads another's results."""
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path_factory.mktemp("harness-cache")))


@pytest.fixture
def count_calls(monkeypatch: pytest.MonkeyPatch):
    """``count_calls(module, name)``: replace ``module.name`` with a wrapper that counts its
    calls (and still makes them); returns the one-element list that holds the count."""

    def install(module: object, name: str) -> list[int]:
        calls = [0]
        real = getattr(module, name)

        def counting(*args, **kwargs):
            calls[0] += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(module, name, counting)
        return calls

    return install


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_shared = pytest.mark.skip(reason=f"needs shared data at {SHARED_DATA} (absent here)")
    gpu_items = [item for item in items if "gpu" in item.keywords]
    has_gpu = False
    if gpu_items:
        import torch

        has_gpu = torch.cuda.is_available()
    skip_gpu = pytest.mark.skip(reason="needs a CUDA GPU")
    skip_browser = None
    if any("browser" in item.keywords for item in items):
        from harness.devtools.chromium import find_chromium

        if find_chromium() is None:
            skip_browser = pytest.mark.skip(
                reason="needs Chromium: apt-get install -y chromium (scripts/test installs it "
                "where it can), or set HARNESS_CHROMIUM to a Chromium executable"
            )
    for item in items:
        if skip_browser is not None and "browser" in item.keywords:
            item.add_marker(skip_browser)
        if "shared_data" in item.keywords and not SHARED_DATA.is_dir():
            item.add_marker(skip_shared)
        if "gpu" in item.keywords and not has_gpu:
            item.add_marker(skip_gpu)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"needs shared data at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def tiny_family(tmp_path_factory: pytest.TempPathFactory):
    """``tiny_family(name)``: a tiny random model of a family (tests/translator_cases.py),
    built once per test session and worker."""
    from translator_cases import BUILDERS

    from harness.devtools.tiny_models import build_once

    root = tmp_path_factory.getbasetemp() / "tiny-families"
    return lambda name: build_once(root, name, BUILDERS[name])


@pytest.fixture(scope="session")
def tiny_marian(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real Marian model with random weights and a trained tokenizer, saved to disk."""
    from harness.devtools.tiny_models import build_tiny_marian

    return build_tiny_marian(tmp_path_factory.mktemp("models") / "tiny-marian")


@pytest.fixture(scope="session")
def chromium():
    """One headless Chromium per test worker, with a 1,400 × 900 window."""
    from harness.devtools.chromium import Browser

    with Browser(width=1400, height=900) as browser:
        yield browser

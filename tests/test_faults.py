"""Faults the way real machines fail, each ending in a message and exit 2, never a traceback.

Tests run as root here, and chmod does not stop root: read-only files are made with
``chattr +i`` (immutable, which binds root too), read-only folders and full disks with a real
tmpfs mount. Where the sandbox cannot do that (no root, no CAP_SYS_ADMIN), the test skips and
says why.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from harness.cli import main

REPO = Path(__file__).resolve().parents[1]


def write_config(tmp_path: Path, model: Path | str, out: Path | None = None, **extra) -> Path:
    config = {
        "name": "e2e",
        "datasets": ["itu-wtisd-2021"],
        "models": [{"name": "tiny", "model": str(model), "batch_size": 4, "max_new_tokens": 8}],
        "metrics": ["bleu", "chrf"],
        "statistics": {"bootstrap_resamples": 20},
        "output_dir": str(out or tmp_path / "runs"),
        **extra,
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def error_lines(err: str) -> list[str]:
    """The lines from ``error:`` on (the two-line message), checking there is no traceback."""
    assert "Traceback" not in err, err
    lines = err.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("error: "))
    return lines[start:]


@pytest.fixture
def mount():
    """``mount(target, *options)`` mounts a tmpfs there (unmounted after the test)."""
    done: list[Path] = []

    def _mount(target: Path, *options: str) -> None:
        target.mkdir(parents=True, exist_ok=True)
        opts = ",".join(options or ("size=1m",))
        cmd = ["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(target)]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN): "
                        f"{result.stderr.strip()}")  # fmt: skip
        done.append(target)

    yield _mount
    for target in reversed(done):
        subprocess.run(["umount", "-l", str(target)], check=False)


@pytest.fixture
def immutable():
    """``immutable(path)``: ``chattr +i`` (undone after the test), else skip."""
    done: list[Path] = []

    def _set(path: Path) -> None:
        result = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
        if result.returncode != 0:
            pytest.skip(f"chattr +i does not work here: {result.stderr.strip()}")
        done.append(path)

    yield _set
    for path in done:
        subprocess.run(["chattr", "-i", str(path)], check=False)


def cache_file() -> Path:
    return Path(os.environ["HARNESS_CACHE_DIR"]) / "translations.sqlite"


def test_cache_damaged_in_the_middle_is_found_at_the_first_read(tmp_path, tiny_marian, capsys):
    path = write_config(tmp_path, tiny_marian)
    assert main(["run", str(path)]) == 0
    cache = cache_file()
    data = bytearray(cache.read_bytes())
    page = 4096
    assert len(data) >= 3 * page  # header page, middle pages, last page
    # Keep the first page (header and schema: the file still opens) and the last one.
    data[page:-page] = bytes((i * 7 + 3) % 256 for i in range(len(data) - 2 * page))
    cache.write_bytes(bytes(data))
    capsys.readouterr()
    assert main(["run", str(path)]) == 2
    lines = error_lines(capsys.readouterr().err)
    assert lines == [
        f"error: translation cache {cache} is damaged (database disk image is malformed)",
        "delete it (its translations are made again), set cache_dir to another folder, "
        "or pass --no-cache",
    ]
    assert main(["run", str(path), "--no-cache"]) == 0  # the way out it names works


def test_read_only_cache_stops_before_translating(tmp_path, tiny_marian, capsys, immutable):
    path = write_config(tmp_path, tiny_marian)
    assert main(["run", str(path)]) == 0
    immutable(cache_file())
    capsys.readouterr()
    assert main(["run", str(path)]) == 0  # everything cached: reading is all it needs
    assert "5 from the cache, 0 to translate" in capsys.readouterr().err
    assert main(["run", str(path), "--set", "models.0.max_new_tokens=6"]) == 2  # new work
    err = capsys.readouterr().err
    assert error_lines(err) == [
        f"error: the translation cache {cache_file()} is read-only, and there is work to translate",
        "make it writable, set cache_dir (or $HARNESS_CACHE_DIR) to a writable folder, "
        "or pass --no-cache",
    ]
    assert "loading model" not in err  # stopped before any model ran
    assert main(["run", str(path), "--set", "models.0.max_new_tokens=6", "--no-cache"]) == 0


def test_read_only_statistics_cache_serves_a_cached_rerun(tmp_path, tiny_marian, capsys, immutable):
    """Every statistic, score and interval is cached, but not the leaf's numbers (a cache from
    before leaf rows were kept): the rerun reads what it needs and keeps nothing."""
    import sqlite3

    path = write_config(tmp_path, tiny_marian)
    assert main(["run", str(path)]) == 0
    stats = cache_file().parent / "metric-stats.sqlite"
    db = sqlite3.connect(stats)
    db.execute("DELETE FROM leaf_scores")
    db.commit()
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    first = json.loads(next((tmp_path / "runs").rglob("results.json")).read_text("utf-8"))
    immutable(stats)
    capsys.readouterr()
    assert main(["run", str(path)]) == 0
    again = json.loads(next((tmp_path / "runs").rglob("results.json")).read_text("utf-8"))
    assert again["scores"] == first["scores"]


def test_read_only_statistics_cache_serves_a_rerun_that_recomputes_scores(
    tmp_path, tiny_marian, capsys, immutable
):
    """Only the per-segment rows are cached (corpus scores, intervals and leaf numbers are
    not): the rerun computes them from the rows and keeps none of them."""
    import sqlite3

    path = write_config(tmp_path, tiny_marian)
    assert main(["run", str(path)]) == 0
    stats = cache_file().parent / "metric-stats.sqlite"
    db = sqlite3.connect(stats)
    db.execute("DELETE FROM leaf_scores")
    db.execute("DELETE FROM remembered")
    db.commit()
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    first = json.loads(next((tmp_path / "runs").rglob("results.json")).read_text("utf-8"))
    immutable(stats)
    capsys.readouterr()
    assert main(["run", str(path)]) == 0
    again = json.loads(next((tmp_path / "runs").rglob("results.json")).read_text("utf-8"))
    assert again["scores"] == first["scores"]


def test_read_only_output_dir_is_found_before_any_model_runs(tmp_path, tiny_marian, capsys, mount):
    out = tmp_path / "ro"
    mount(out, "ro", "size=64k")
    path = write_config(tmp_path, tiny_marian, out=out / "runs")
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err
    assert error_lines(err) == [
        f"error: cannot write the run folder {out / 'runs' / 'e2e'}: {out} is not writable "
        "(Read-only file system)",
        "set output_dir (or --set output_dir=...) to a writable folder",
    ]
    assert "loading model" not in err and "dataset itu-wtisd-2021" not in err


def test_full_disk_leaves_each_result_folder_complete_or_absent(
    tmp_path, tiny_marian, capsys, mount
):
    out = tmp_path / "small"
    # 128 KiB: after the filler is removed, the run folder (report.html with its inline
    # script and segment data included) must fit.
    mount(out, "size=128k")
    filler = out / "filler"
    # Leave two pages: config.yaml fits, the result folder's files do not.
    filler.write_bytes(b"\0" * (30 * 4096))
    path = write_config(tmp_path, tiny_marian, out=out)
    assert main(["run", str(path)]) == 2
    leaf = out / "e2e" / "tiny" / "itu-wtisd-2021"
    lines = error_lines(capsys.readouterr().err)
    assert lines == [
        f"error: cannot write the results of tiny on itu-wtisd-2021 to {leaf}: "
        "No space left on device",
        "nothing half-written is left there; free some space (or set output_dir) and rerun: "
        "finished translations are in the cache",
    ]
    assert not leaf.exists()
    assert os.listdir(leaf.parent) == []  # no hidden half-written folder either
    filler.unlink()
    assert main(["run", str(path)]) == 0
    assert "5 from the cache, 0 to translate" in capsys.readouterr().err
    assert sorted(os.listdir(leaf)) == [
        "hypotheses.txt", "results.json", "segments.jsonl", "stats.npz",
    ]  # fmt: skip


def test_a_rerun_replaces_a_result_folder_whole(tmp_path, tiny_marian):
    path = write_config(tmp_path, tiny_marian)
    assert main(["run", str(path)]) == 0
    leaf = tmp_path / "runs" / "e2e" / "tiny" / "itu-wtisd-2021"
    (leaf / "stray.txt").write_text("from an older version", encoding="utf-8")
    assert main(["run", str(path)]) == 0
    assert not (leaf / "stray.txt").exists()
    assert [p.name for p in leaf.parent.iterdir()] == ["itu-wtisd-2021"]


def test_missing_local_model_and_gpu_are_found_before_data_and_torch(tmp_path):
    """At validation: no dataset loaded and torch never imported (it takes 3 to 8 s)."""
    bad_path = write_config(tmp_path, "./no-such-model")
    code = (
        "import sys; from harness.cli import main; rc = main(sys.argv[1:]); "
        "print(rc, 'torch' in sys.modules)"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO), "CUDA_VISIBLE_DEVICES": ""}
    run = subprocess.run(
        [sys.executable, "-c", code, "run", str(bad_path)], capture_output=True, text=True, env=env
    )
    assert run.stdout.split() == ["2", "False"], run.stderr
    assert error_lines(run.stderr) == [
        f"error: models[0].model: local folder '{tmp_path / 'no-such-model'}' does not exist "
        f"(relative paths are taken from the config file's folder, {tmp_path})"
    ]
    assert "dataset itu-wtisd-2021" not in run.stderr
    model = tmp_path / "m"
    model.mkdir()
    (model / "config.json").write_text("{}", encoding="utf-8")
    cuda = write_config(tmp_path, model)
    config = yaml.safe_load(cuda.read_text(encoding="utf-8"))
    config["models"][0]["device"] = "cuda"
    cuda.write_text(yaml.safe_dump(config), encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-c", code, "run", str(cuda)], capture_output=True, text=True, env=env
    )
    assert run.stdout.split() == ["2", "False"], run.stderr
    assert error_lines(run.stderr) == [
        "error: models[0].device: 'cuda', but this machine has no GPU",
        "use device: auto (the GPU when there is one, else the CPU) or device: cpu, "
        "e.g. --set models.0.device=auto",
    ]


def test_run_folder_config_is_the_validated_config(tmp_path, tiny_marian):
    data = tmp_path / "data"
    data.mkdir()
    (data / "t.en").write_text("Hello.\nThank you.\n", encoding="utf-8")
    (data / "t.vi").write_text("Xin chào.\nCảm ơn.\n", encoding="utf-8")
    dataset = {"kind": "files", "source": "data/t.en", "references": ["data/t.vi"]}
    path = write_config(tmp_path, tiny_marian, datasets=[dataset])
    assert main(["run", str(path), "--set", "models.0.batch_size=2"]) == 0
    saved = yaml.safe_load((tmp_path / "runs" / "e2e" / "config.yaml").read_text("utf-8"))
    assert saved["datasets"][0]["source"] == str(data / "t.en")  # absolute
    assert saved["datasets"][0]["references"] == [str(data / "t.vi")]
    assert saved["datasets"][0]["skip_empty"] is False  # defaults filled in
    assert saved["models"][0]["batch_size"] == 2 and saved["models"][0]["num_beams"] == 1
    assert saved["normalize"] == {"tone_marks": "keep", "quotes": "keep"}
    assert saved["cache_dir"] == str(cache_file().parent.resolve())
    # It is a config: run from another folder, it repeats the run, all from the cache.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    copy = elsewhere / "config.yaml"
    copy.write_text(yaml.safe_dump(saved), encoding="utf-8")
    assert main(["run", str(copy)]) == 0
    leaf = tmp_path / "runs" / "e2e" / "tiny" / "t"
    timing = json.loads((leaf / "results.json").read_text("utf-8"))["timing"]
    assert timing["cached_segments"] == 2

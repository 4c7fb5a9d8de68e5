"""Two torchrun launchers on this machine as two "nodes" (``--nnodes 2 --nproc_per_node 1``),
each with its own cache dir and output dir: no shared filesystem is needed."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.cache import TranslationCache
from harness.cli import main
from harness.distributed import chunks, deal_by_length
from harness.shards import ShardWriter

TRAINED = Path(__file__).resolve().parent / "fixtures" / "models" / "tiny-marian-en-vi-trained"
# Keys that say how fast, where and by whom, not what: they differ between any two runs.
RUN_SPECIFIC = ("throughput", "load_seconds", "from_cache")


def test_deal_by_length_is_balanced_deterministic_and_complete():
    sources = ["a" * n for n in (5, 1, 9, 3, 9, 7, 2)]
    shares = deal_by_length(sources, range(7), 3)
    # Longest first (9 at 2, 9 at 4, 7 at 5, 5 at 0, 3 at 3, 2 at 6, 1 at 1), dealt 0, 1, 2, 0, ...
    assert shares == [[2, 0, 1], [4, 3], [5, 6]]
    assert sorted(i for share in shares for i in share) == list(range(7))
    assert deal_by_length(sources, [1, 3], 3) == [[3], [1], []]


def test_chunks_stay_under_the_limit_and_keep_order():
    items = [(0, i, "x" * 100) for i in range(50)]
    pieces = chunks(items, limit=1000)
    assert [x for piece in pieces for x in piece] == items
    assert len(pieces) > 5 and all(len(piece) >= 1 for piece in pieces)
    assert chunks([(0, 0, "y" * 5000)], limit=1000) == [[(0, 0, "y" * 5000)]]


def _write_data(root: Path, n: int = 24) -> list[tuple[str, str]]:
    from harness.devtools.tiny_train import training_pairs

    pairs = training_pairs()[::10][:n]
    (root / "t.en").write_text("".join(en + "\n" for en, _ in pairs), encoding="utf-8")
    (root / "t.vi").write_text("".join(vi + "\n" for _, vi in pairs), encoding="utf-8")
    return pairs


def _config(path: Path, models: list[dict]) -> Path:
    config = {
        "name": "dist",
        "datasets": [
            {"kind": "files", "name": "t", "source": "../t.en", "references": ["../t.vi"]}
        ],
        "models": models,
        "statistics": {"bootstrap_resamples": 50},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def _model(name: str, where: str | Path) -> dict:
    return {"name": name, "model": str(where), "batch_size": 4, "max_new_tokens": 24}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _two_nodes(
    configs: list[Path], caches: list[Path], cwds: list[Path]
) -> list[tuple[Any, str, str]]:
    """Start node 0 and node 1 (one process each) and wait for both."""
    port = _free_port()
    procs = []
    for node, (config, cache, cwd) in enumerate(zip(configs, caches, cwds, strict=True)):
        cwd.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "OMP_NUM_THREADS": "1",
            "HARNESS_CACHE_DIR": str(cache),
            "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
        }
        command = [
            *(sys.executable, "-m", "torch.distributed.run", "--nnodes", "2"),
            *("--nproc-per-node", "1", "--node-rank", str(node)),
            *("--master-addr", "127.0.0.1", "--master-port", str(port)),
            *("-m", "harness", "run", str(config), "-q"),
        ]
        procs.append(
            subprocess.Popen(
                command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
        )
    outputs = [p.communicate(timeout=300) for p in procs]
    return [(p.returncode, out, err) for p, (out, err) in zip(procs, outputs, strict=True)]


def _rows(cache: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(cache / "translations.sqlite") as db:
        return db.execute("SELECT translator_key, source, hypothesis FROM translations").fetchall()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _comparable(results: dict) -> dict:
    out = {k: v for k, v in results.items() if k != "timing"}
    out["model"] = {k: v for k, v in results["model"].items() if k not in RUN_SPECIFIC}
    return out


def _assert_same_run(one: Path, other: Path) -> None:
    files = sorted(p.relative_to(one) for p in one.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(other) for p in other.rglob("*") if p.is_file())
    for rel in files:
        if rel.name == "results.json":
            a, b = (json.loads((root / rel).read_text(encoding="utf-8")) for root in (one, other))
            assert _comparable(a) == _comparable(b), rel
        elif rel.name == "config.yaml":  # the validated config names each run's own folders
            a, b = (
                yaml.safe_load((root / rel).read_text(encoding="utf-8")) for root in (one, other)
            )
            for key in ("cache_dir", "output_dir"):
                a.pop(key, None), b.pop(key, None)
            assert a == b, rel
        elif rel.suffix != ".html":  # the report shows timings
            assert (one / rel).read_bytes() == (other / rel).read_bytes(), rel


@pytest.mark.slow  # 4 processes importing torch: 116 s here on 2 busy cores
def test_two_nodes_with_their_own_caches_match_one_process(tmp_path, monkeypatch, capsys):
    pairs = _write_data(tmp_path)
    config = _config(tmp_path / "cfg" / "c.yaml", [_model("m", TRAINED)])
    # One process, its own cache: the reference run folder, and real translations to seed
    # node 1's cache with (what a node already has cached is used, not translated again).
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "cache-single"))
    (tmp_path / "single").mkdir()
    monkeypatch.chdir(tmp_path / "single")
    assert main(["run", str(config), "-q"]) == 0
    seeded = _rows(tmp_path / "cache-single")[:4]
    node1_cache = tmp_path / "cache-1"
    with TranslationCache(tmp_path / "cache-single" / "translations.sqlite") as single:
        flags = single.get_flags(seeded[0][0], [s for _, s, _ in seeded])
    with TranslationCache(node1_cache / "translations.sqlite") as cache:
        cache.put_many(seeded[0][0], [(s, h) for _, s, h in seeded], flags=flags)
    before = _digest(node1_cache / "translations.sqlite")

    caches = [tmp_path / "cache-0", node1_cache]
    cwds = [tmp_path / "node0", tmp_path / "node1"]
    outcomes = _two_nodes([config, config], caches, cwds)
    for rc, _, err in outcomes:
        assert rc == 0, err[-3000:]
    assert outcomes[0][1].count("| m |") == 1 and not outcomes[1][1].strip()
    assert not (cwds[1] / "runs").exists()  # only process 0 writes a run folder
    _assert_same_run(tmp_path / "single" / "runs" / "dist", cwds[0] / "runs" / "dist")

    leaf = cwds[0] / "runs" / "dist" / "m" / "t"
    timing = json.loads((leaf / "results.json").read_text(encoding="utf-8"))["timing"]
    ranks = timing["processes"]["ranks"]
    assert timing["processes"]["world_size"] == 2
    assert [r["from_node_cache"] for r in ranks] == [0, 4]
    assert [r["translated"] for r in ranks] == [10, 10]  # the 20 left, dealt by length
    assert timing["translated_segments"] == 20 and timing["cached_segments"] == 4
    # Node 1's cache was read, never written; node 0's holds everything, node 1 no shard.
    assert _digest(node1_cache / "translations.sqlite") == before
    assert not list((node1_cache / "shards").glob("*"))
    assert sorted(_rows(caches[0])) == sorted(_rows(tmp_path / "cache-single"))

    # One process on node 0 afterwards: everything is in its cache.
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(caches[0]))
    assert main(["run", str(config), "-q", "--set", "name=again"]) == 0
    capsys.readouterr()
    again = tmp_path / "single" / "runs" / "again" / "m" / "t" / "results.json"
    timing = json.loads(again.read_text(encoding="utf-8"))["timing"]
    assert timing["translated_segments"] == 0 and timing["cached_segments"] == len(pairs)


@pytest.mark.slow  # 90 s here on 2 busy cores
def test_a_failing_node_fails_the_run_in_two_lines_and_keeps_what_was_gathered(
    tmp_path, monkeypatch, capsys
):
    import shutil

    _write_data(tmp_path)
    models = [_model("a", TRAINED), _model("b", "./b")]  # ./b: a copy on each node
    configs = [_config(tmp_path / f"n{node}" / "c.yaml", models) for node in (0, 1)]
    for node in (0, 1):
        shutil.copytree(TRAINED, tmp_path / f"n{node}" / "b")
    # Node 1's copy of model b is broken.
    (tmp_path / "n1" / "b" / "config.json").write_text("{not json", encoding="utf-8")
    caches = [tmp_path / "cache-0", tmp_path / "cache-1"]
    cwds = [tmp_path / "node0", tmp_path / "node1"]
    (rc0, out0, err0), (rc1, _, err1) = _two_nodes(configs, caches, cwds)
    assert rc0 != 0 and not out0
    assert "exitcode  : 2" in err0  # torchrun's summary: process 0 ended with the harness's code
    lines = [line for line in err0.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, err0[-3000:]
    first = lines[0]
    assert first.startswith("error: process 1 of 2 (host ")
    assert "failed: models[1].model: could not load the config" in first
    second = err0.splitlines()[err0.splitlines().index(first) + 1]
    assert second.endswith(f"cached in {caches[0]}: rerun the same command to resume")
    assert rc1 == 0 and "error:" not in err1, err1[-3000:]  # its error is process 0's to report

    # Node 1 states each model's identity before translating anything, and its broken copy of
    # model b fails right there, at the check-in: no process translated, nothing was half
    # written, and a rerun on node 0 alone translates everything.
    assert not (cwds[0] / "runs").exists()
    assert not list((caches[1] / "shards").glob("*"))  # gathered, so no longer needed there
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(caches[0]))
    monkeypatch.chdir(cwds[0])
    assert main(["run", str(configs[0]), "-q"]) == 0
    capsys.readouterr()
    leaf = cwds[0] / "runs" / "dist"
    timing = {
        m: json.loads((leaf / m / "t" / "results.json").read_text(encoding="utf-8"))["timing"]
        for m in ("a", "b")
    }
    assert timing["a"]["translated_segments"] == 24 and timing["a"]["cached_segments"] == 0
    assert timing["b"]["translated_segments"] == 24 and timing["b"]["cached_segments"] == 0


def test_a_shard_left_by_a_broken_run_is_used_by_the_next_run(tmp_path, monkeypatch, capsys):
    _write_data(tmp_path)
    config = _config(tmp_path / "cfg" / "c.yaml", [_model("m", TRAINED)])
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "first"))
    assert main(["run", str(config), "-q", "--set", "name=first"]) == 0
    rows = _rows(tmp_path / "first")
    # A process that died after 5 batches left its shard on this node's disk.
    shard = ShardWriter(tmp_path / "second", "somehost", 3)
    shard.put_many(rows[0][0], [(s, h) for _, s, h in rows[:5]])
    with shard.path.open("a", encoding="utf-8") as fh:
        fh.write('{"k": "cut short by the crash')
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "second"))
    assert main(["run", str(config), "-q", "--set", "name=second"]) == 0
    capsys.readouterr()
    runs = tmp_path / "runs"
    timing = json.loads((runs / "second" / "m" / "t" / "results.json").read_text())["timing"]
    assert timing["cached_segments"] == 5 and timing["translated_segments"] == len(rows) - 5
    assert not shard.path.exists()
    hyps = [(runs / r / "m" / "t" / "hypotheses.txt").read_text() for r in ("first", "second")]
    assert hyps[0] == hyps[1]

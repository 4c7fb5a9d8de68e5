"""Data-parallel runs under torchrun: two CPU processes (gloo), a real model, the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from harness.cli import main
from harness.distributed import Rank

TRAINED = Path(__file__).resolve().parent / "fixtures" / "models" / "tiny-marian-en-vi-trained"


def test_shards_are_disjoint_and_complete():
    items = list(range(11))
    shards = [Rank(rank=r, world=3, local_rank=r).shard(items) for r in range(3)]
    assert sorted(x for shard in shards for x in shard) == items
    assert shards[0] == [0, 3, 6, 9]


@pytest.mark.slow
def test_torchrun_two_processes_match_one_process(tmp_path, capsys):
    from harness.devtools.tiny_train import training_pairs

    pairs = training_pairs()[::10][:24]
    (tmp_path / "t.en").write_text("".join(en + "\n" for en, _ in pairs), encoding="utf-8")
    (tmp_path / "t.vi").write_text("".join(vi + "\n" for _, vi in pairs), encoding="utf-8")
    config = {
        "name": "dist",
        "datasets": [
            {"kind": "files", "name": "t", "source": "t.en", "references": ["t.vi"]},
            {"kind": "files", "name": "t2", "source": "t.en", "references": ["t.vi"]},
        ],
        "models": [{"name": "m", "model": str(TRAINED), "batch_size": 4, "max_new_tokens": 24}],
        "statistics": {"bootstrap_resamples": 50},
        "output_dir": str(tmp_path / "runs"),
    }
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "harness",
        "run",
        str(path),
        "-q",
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("| m |") == 1  # one table, from process 0 only
    assert "error" not in done.stderr.lower()
    leaf = tmp_path / "runs" / "dist" / "m" / "t"
    timing = json.loads((leaf / "results.json").read_text(encoding="utf-8"))["timing"]
    ranks = timing["processes"]["ranks"]
    assert timing["processes"]["world_size"] == 2
    # Two datasets with the same 24 sources: each source is translated once, by one process.
    assert [r["rank"] for r in ranks] == [0, 1] and all(r["translated"] == 12 for r in ranks)
    assert timing["translated_segments"] == 24 and timing["cached_segments"] == 0
    again = json.loads((tmp_path / "runs" / "dist" / "m" / "t2" / "results.json").read_text())
    assert again["timing"]["processes"]["ranks"] == ranks
    distributed = (leaf / "hypotheses.txt").read_text(encoding="utf-8")
    assert main(["run", str(path), "-q", "--no-cache", "--set", "name=single"]) == 0
    capsys.readouterr()
    single = tmp_path / "runs" / "single" / "m" / "t" / "hypotheses.txt"
    assert single.read_text(encoding="utf-8") == distributed
    assert distributed.splitlines()[0] == pairs[0][1]  # and it really translates

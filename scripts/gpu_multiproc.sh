#!/usr/bin/env bash
# The multi-process path on a GPU machine (part of scripts/gpu_check.sh): 380 sentences with
# the trained fixture model, (a) one process, (b) torchrun with 2 processes, each on
# cuda:LOCAL_RANK (both cuda:0 on a one-GPU machine), (c) two "nodes" of one process each,
# with their own caches and device_map: auto. Prints wall times, what each process did, and
# whether the hypotheses are the same.  Usage: scripts/gpu_multiproc.sh WORK_DIR
set -uo pipefail
work="$1"; mkdir -p "$work"
py="${PYTHON:-python3}"
"$py" - "$work" <<'PY'
import sys
from pathlib import Path

import yaml

from harness.devtools.tiny_train import training_pairs

work = Path(sys.argv[1])
pairs = training_pairs()
(work / "t.en").write_text("".join(en + "\n" for en, _ in pairs), encoding="utf-8")
(work / "t.vi").write_text("".join(vi + "\n" for _, vi in pairs), encoding="utf-8")
model = Path("tests/fixtures/models/tiny-marian-en-vi-trained").resolve()
config = {
    "name": "mp",
    "datasets": [{"kind": "files", "name": "t", "source": "t.en", "references": ["t.vi"]}],
    "models": [{"name": "m", "model": str(model), "batch_size": 64, "max_new_tokens": 32,
                "dtype": "float32"}],
    "statistics": {"bootstrap_resamples": 0},
}
(work / "c.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
PY
cfg="$work/c.yaml"
timed() { local start=$SECONDS; "$@"; echo "exit $? after $((SECONDS - start)) s: ${*: -4}"; }
echo "## (a) one process"
HARNESS_CACHE_DIR="$work/c-one" timed "$py" -m harness run "$cfg" -q --set "output_dir=$work/one" > /dev/null
echo "## (b) torchrun --standalone --nproc-per-node 2"
HARNESS_CACHE_DIR="$work/c-two" timed "$py" -m torch.distributed.run --standalone --nproc-per-node 2 \
  -m harness run "$cfg" -q --set "output_dir=$work/two" > /dev/null
echo "## (c) two nodes, own caches, device_map: auto"
port=$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
for node in 0 1; do
  HARNESS_CACHE_DIR="$work/c-node$node" "$py" -m torch.distributed.run --nnodes 2 \
    --node-rank $node --nproc-per-node 1 --master-addr 127.0.0.1 --master-port "$port" \
    -m harness run "$cfg" -q --set "output_dir=$work/nodes$node" --set models.0.device_map=auto \
    > "$work/node$node.out" 2> "$work/node$node.err" &
done
start=$SECONDS; wait; echo "both nodes done after $((SECONDS - start)) s"
tail -5 "$work/node0.err" "$work/node1.err"
"$py" - "$work" <<'PY'
import json
import sys
from pathlib import Path

work = Path(sys.argv[1])
hyps = {}
for name in ("one", "two", "nodes0"):
    leaf = work / name / "mp" / "m" / "t"
    if not (leaf / "results.json").is_file():
        print(name, "no results")
        continue
    results = json.loads((leaf / "results.json").read_text())
    hyps[name] = (leaf / "hypotheses.txt").read_text()
    model = results["model"]
    print(name, "device", model.get("device"), "device_map", model.get("device_map"),
          "| timing", json.dumps(results["timing"]))
print("same hypotheses:", len(set(hyps.values())) == 1, sorted(hyps))
PY

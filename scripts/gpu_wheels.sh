#!/usr/bin/env bash
# Run HERE (where pip reaches PyPI), in the checkout the device tool sends, before a GPU check:
# downloads into .whl/ (git-ignored) the wheels that the lent GPU machine's image lacks
# (pydantic and its parts, sacremoses, bitsandbytes; about 47 MB, under the 64 MiB a call may
# carry). scripts/gpu_check.sh installs them there with --no-index; the machine has no network.
# Usage: scripts/gpu_wheels.sh   (then carry .whl in the device call)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
grep -qxF '/.whl/' .git/info/exclude 2>/dev/null || grep -qxF '/.whl/' .gitignore || echo /.whl/ >> .git/info/exclude
py="${PYTHON:-python3}"
# The image's Python is 3.12 (see the device tool's KINDS.md); versions as in constraints.txt.
"$py" -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
  --platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 -d .whl \
  pydantic==2.14.4 pydantic-core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5 \
  sacremoses==0.2.0 bitsandbytes==0.50.2
du -sh .whl

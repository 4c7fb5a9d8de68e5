# Sourced by scripts/demo and scripts/test: create .venv if missing and install the project with
# the versions in constraints.txt. A second call skips pip when nothing it depends on changed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
EXTRAS="${1:-}"
PY="${PYTHON:-python3}"

if [[ ! -x "$VENV/bin/python" ]]; then
  echo "setup: creating $VENV" >&2
  "$PY" -m venv "$VENV"
fi
stamp="$VENV/.harness-install-stamp"
want="$(cat "$ROOT/pyproject.toml" "$ROOT/constraints.txt" | sha256sum | cut -c1-16)${EXTRAS:+-$EXTRAS}"
have="$(cat "$stamp" 2>/dev/null || true)"
# A dev install also satisfies a plain one, so `scripts/test` then `scripts/demo` installs once.
if [[ "$have" != "$want" && "$have" != "$want-dev" ]]; then
  echo "setup: installing envi-mt-harness${EXTRAS:+[$EXTRAS]} into .venv (first time: a few minutes)" >&2
  spec="$ROOT"
  [[ -n "$EXTRAS" ]] && spec="$ROOT[$EXTRAS]"
  # torch is pinned in constraints.txt so that pip takes the CPU wheel rather than a CUDA build.
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
      -c "$ROOT/constraints.txt" -e "$spec"
  echo "$want" > "$stamp"
fi
export PATH="$VENV/bin:$PATH"

# Sourced by scripts/test: the browser tests (pytest -m browser) need Chromium. Where none is
# found, install Debian's package if this machine lets us (root or password-less sudo, and
# apt-get); otherwise say so: those tests then skip, each with the reason.
# HARNESS_CHROMIUM=/path/to/chromium picks one; HARNESS_NO_BROWSER_INSTALL=1 never installs.
have_chromium() {
  [[ -n "${HARNESS_CHROMIUM:-}" ]] && return 0
  local name
  for name in chromium chromium-browser google-chrome google-chrome-stable; do
    command -v "$name" >/dev/null 2>&1 && return 0
  done
  return 1
}

if ! have_chromium; then
  as_root=()
  [[ "$(id -u)" -ne 0 ]] && as_root=(sudo -n)
  if [[ "${HARNESS_NO_BROWSER_INSTALL:-0}" == 1 ]]; then
    echo "setup: no Chromium (HARNESS_NO_BROWSER_INSTALL=1): browser tests will be skipped" >&2
  elif ! command -v apt-get >/dev/null 2>&1 || { [[ ${#as_root[@]} -gt 0 ]] && ! sudo -n true 2>/dev/null; }; then
    echo "setup: no Chromium, and no apt-get as root here: browser tests will be skipped" \
         "(install it with: apt-get install -y chromium)" >&2
  else
    log="$(mktemp -t harness-chromium-install.XXXXXX.log)"
    echo "setup: installing Debian's chromium for the browser tests (log: $log)" >&2
    if { "${as_root[@]}" apt-get update -qq &&
         DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq chromium; } >"$log" 2>&1; then
      echo "setup: $(chromium --version 2>/dev/null || echo chromium installed)" >&2
    else
      echo "setup: installing chromium failed (see $log): browser tests will be skipped" >&2
    fi
  fi
fi

from __future__ import annotations

import os
import socket
import subprocess
import sys

from harness.hub import hub_reachable


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again when the block ends


def test_probe_sees_a_listening_endpoint(monkeypatch):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
        for var in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.delenv(var, raising=False)
        assert hub_reachable(timeout=2)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{closed_port()}")
    assert not hub_reachable(timeout=2)
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:1")
    assert hub_reachable(timeout=2)  # behind a proxy the probe proves nothing


def test_unreachable_hub_switches_a_fresh_process_offline():
    env = {
        k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")
    }
    env["HF_ENDPOINT"] = f"http://127.0.0.1:{closed_port()}"
    code = (
        "import os; from harness.hub import go_offline_if_unreachable as g; "
        "print(g(), os.environ.get('HF_HUB_OFFLINE'), os.environ.get('HF_DATASETS_OFFLINE'))"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.split() == ["True", "1", "1"], out.stderr


def test_score_table_and_compare_never_import_the_heavy_stack(tmp_path):
    """`harness score`/`table` must start fast: no torch, transformers, datasets, ctranslate2."""
    fixtures = "tests/fixtures/metrics"
    code = f"""
import sys
from harness.cli import main
assert main(["score", "--hyp", "{fixtures}/hyp.vi.txt", "--ref", "{fixtures}/ref.vi.txt"]) == 0
main(["table", "{tmp_path}"])  # exit 2 (no runs there), but imports the table code
heavy = [m for m in ("torch", "transformers", "datasets", "ctranslate2") if m in sys.modules]
print("HEAVY", heavy)
"""
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )
    assert "HEAVY []" in out.stdout, out.stderr

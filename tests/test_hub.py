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

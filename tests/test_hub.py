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


def test_the_hub_is_probed_only_when_a_hub_library_is_needed(tmp_path, tiny_marian):
    """The first run loads the local model with transformers: probed once, just before. The
    cached rerun imports no hub library: no connection at all."""
    import threading

    import yaml

    src, ref = tmp_path / "s.en", tmp_path / "r.vi"
    src.write_text("Good morning.\nThank you.\n", encoding="utf-8")
    ref.write_text("Chào buổi sáng.\nCảm ơn.\n", encoding="utf-8")
    config = tmp_path / "c.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "name": "probe",
                "output_dir": str(tmp_path / "runs"),
                "cache_dir": str(tmp_path / "cache"),
                "datasets": [{"kind": "files", "source": str(src), "references": [str(ref)]}],
                "models": [{"name": "tiny", "model": str(tiny_marian), "max_new_tokens": 4}],
                "metrics": ["bleu"],
                "statistics": {"bootstrap_resamples": 10},
            }
        ),
        encoding="utf-8",
    )
    accepted: list[int] = []
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        server.settimeout(0.2)
        done = threading.Event()

        def count() -> None:
            while not done.is_set():
                try:
                    conn, _ = server.accept()
                except OSError:
                    continue
                conn.close()
                accepted.append(1)

        counter = threading.Thread(target=count)
        counter.start()
        env = {k: v for k, v in os.environ.items() if "OFFLINE" not in k}
        env["HF_ENDPOINT"] = f"http://127.0.0.1:{server.getsockname()[1]}"
        for var in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
            env.pop(var, None)
        seen = []
        try:
            for _ in range(2):
                out = subprocess.run(
                    [sys.executable, "-m", "harness", "run", str(config), "-q"],
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=300,
                )
                assert out.returncode == 0, out.stderr
                seen.append(len(accepted))
        finally:
            done.set()
            counter.join()
    assert seen == [1, 1]

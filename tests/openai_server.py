"""A real OpenAI-compatible chat-completions server on 127.0.0.1, for tests and the benchmark.

Answers deterministically: the translation of a prompt is :func:`expected_answer` of the source
in its last user turn (the text after the instruction). Faults are injected on demand, per
source: ``server.faults[source] = ["429", "500"]`` makes the first two requests for that source
fail that way, then it is answered; a fault ending in ``*`` (``"500*"``) never runs out.

Fault names: ``429`` (with ``Retry-After: retry_after_s``), ``500``, ``401``, ``slow`` (answers
after ``slow_s``, past a short client timeout), ``malformed`` (200 with a body that is not
JSON), ``length`` (``finish_reason: length``, the answer cut short), ``content_filter``,
``refusal``. Every request is counted per source, with its arrival time.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter, defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

INSTRUCTION_SEPARATOR = "\n\n"


def expected_answer(source: str) -> str:
    """What the server answers for ``source`` (no fault)."""
    return f"VI[{source.upper()}]"


def source_of(body: dict[str, Any]) -> str:
    """The source text of a request: its last user turn without the instruction."""
    user = [m["content"] for m in body["messages"] if m["role"] == "user"][-1]
    return user.split(INSTRUCTION_SEPARATOR, 1)[-1]


class FakeOpenAIServer(ThreadingHTTPServer):
    """``with FakeOpenAIServer(api_key="sk-test") as server: server.base_url ...``"""

    daemon_threads = True
    # The default backlog of 5 resets connections when 64 clients connect at once (measured).
    request_queue_size = 1024

    def __init__(self, api_key: str | None = None, delay_s: float = 0.0) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.api_key, self.delay_s = api_key, delay_s
        self.retry_after_s = 0.2
        self.slow_s = 2.0
        self.faults: dict[str, list[str]] = {}
        self.requests: Counter[str] = Counter()  # source -> requests received
        self.arrivals: defaultdict[str, list[float]] = defaultdict(list)  # monotonic times
        self.received = 0  # every POST, refused ones included
        self.answered = 0  # 200s with a real completion
        self.in_flight = self.max_in_flight = 0
        self.bodies: list[dict[str, Any]] = []
        # Set: requests beyond `hold_after` answered ones wait until the test clears it.
        self.hold_after: int | None = None
        self.release = threading.Event()
        self.lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def __enter__(self) -> FakeOpenAIServer:
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.shutdown()
        self.server_close()

    def next_fault(self, source: str) -> str | None:
        with self.lock:
            queue = self.faults.get(source)
            if not queue:
                return None
            fault = queue[0]
            if not fault.endswith("*"):
                queue.pop(0)
            return fault.rstrip("*")


class _Handler(BaseHTTPRequestHandler):
    server: FakeOpenAIServer
    protocol_version = "HTTP/1.1"  # keep-alive, as real servers do
    # Buffered: headers and body leave in one write (flushed after each request); unbuffered,
    # they go as two segments and Nagle + delayed ACKs add about 40 ms to every answer.
    wbufsize = -1

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.server.lock:
            self.server.received += 1
        if self.path != "/v1/chat/completions":
            return self._send(404, {"error": {"message": f"no route {self.path}"}})
        server = self.server
        if server.api_key and self.headers.get("Authorization") != f"Bearer {server.api_key}":
            return self._send(401, {"error": {"message": "Incorrect API key provided"}})
        source = source_of(body)
        with server.lock:
            server.requests[source] += 1
            server.arrivals[source].append(time.monotonic())
            server.bodies.append(body)
            server.in_flight += 1
            server.max_in_flight = max(server.max_in_flight, server.in_flight)
            hold = server.hold_after is not None and server.answered >= server.hold_after
        try:
            if hold:
                server.release.wait()
            if server.delay_s:
                time.sleep(server.delay_s)
            self._answer(body, source, server.next_fault(source))
        finally:
            with server.lock:
                server.in_flight -= 1

    def _answer(self, body: dict[str, Any], source: str, fault: str | None) -> None:
        server = self.server
        if fault == "429":
            headers = {"Retry-After": str(server.retry_after_s)}
            return self._send(429, {"error": {"message": "Rate limit reached"}}, headers)
        if fault in ("500", "401"):
            return self._send(int(fault), {"error": {"message": f"injected {fault}"}})
        if fault == "malformed":
            return self._send_raw(200, b'{"id": "x", "choices": [', "application/json")
        if fault == "slow":
            time.sleep(server.slow_s)
        text = expected_answer(source)
        finish, refusal = "stop", None
        if fault == "length":
            text, finish = text[: len(text) // 2], "length"
        elif fault == "content_filter":
            text, finish = "", "content_filter"
        elif fault == "refusal":
            text, refusal = None, "I can't help with that."
        with server.lock:
            server.answered += 1
        self._send(200, completion(body, text, finish, refusal))

    def _send(self, status: int, payload: dict[str, Any], headers: dict | None = None) -> None:
        self._send_raw(status, json.dumps(payload).encode(), "application/json", headers)

    def _send_raw(self, status: int, data: bytes, ctype: str, headers: dict | None = None) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout, kill)
            pass


def completion(body: dict[str, Any], text: str | None, finish: str, refusal: str | None) -> dict:
    prompt_tokens = sum(len(m["content"].split()) for m in body["messages"])
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 1767225600,
        "model": f"{body['model']}-2026-01-01",
        "system_fingerprint": "fp_test_1",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": refusal},
                "finish_reason": finish,
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": len((text or "").split()),
            "total_tokens": prompt_tokens + len((text or "").split()),
        },
    }


def main() -> None:
    """``python tests/openai_server.py --delay 0.2``: serve until killed; prints the base URL."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--api-key", default=None)
    args = parser.parse_args()
    with FakeOpenAIServer(api_key=args.api_key, delay_s=args.delay) as server:
        print(server.base_url, flush=True)
        threading.Event().wait()


if __name__ == "__main__":
    main()

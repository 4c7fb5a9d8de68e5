"""``backend: openai``: translate through an OpenAI-compatible chat-completions server.

One ``AsyncOpenAI`` client per model, up to ``max_concurrency`` requests in flight, every
answer handed to ``on_batch`` (hence committed to the cache) the moment it arrives: a run killed
with ``kill -9`` loses only the requests in flight. The first request goes alone, so a wrong
key costs one 401, not ``max_concurrency`` of them.

Per-segment flags (:meth:`OpenAITranslator.segment_flags`): ``"truncated"`` when the server
stopped at ``max_new_tokens`` (``finish_reason: length``; the partial text is kept, as a local
model's would be); ``"content_filter"`` and ``"refusal"`` when the server declined. Those two
become an empty output, not an error: a model that refuses one segment in a thousand can still
be evaluated, the refusal scores as what the user got (no translation), and the flag travels
with the output into the cache and the results, so it is never scored silently as a translation.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.errors import ConfigError
from harness.translators.base import BatchCallback, BuildOptions, SegmentError
from harness.translators.batching import blank_positions
from harness.translators.fewshot import (
    chat_messages,
    check_no_overlap,
    first_line,
    load_few_shot,
)
from harness.translators.identity import harness_version
from harness.translators.openai_config import OpenAIModelConfig, check_base_url, endpoint_of
from harness.translators.openai_limits import (
    Failure,
    MalformedResponse,
    RateLimiter,
    RequestProgress,
    RequestStats,
    backoff_s,
    classify,
)
from harness.versions import version_or_absent

log = logging.getLogger(__name__)

FLAGS = ("truncated", "content_filter", "refusal", "no_content")
_NO_AUTH_KEY = "EMPTY"  # what the client sends when a server needs no key (vLLM's convention)


def openai_identity(cfg: OpenAIModelConfig, few_shot_fingerprint: str | None = None) -> dict:
    """Everything that decides this translator's outputs, for the cache key.

    The server (host, port, path: not the scheme), the model name, the whole prompt (with a
    fingerprint of the few-shot examples the config points at) and the decoding settings.
    Never the key, nor settings that only change speed (concurrency, rate limit, timeout,
    retries) or cost (prices).
    """
    return {
        "backend": "openai",
        "endpoint": endpoint_of(cfg.base_url),
        "model": cfg.model,
        "prompt": cfg.prompt.model_dump(mode="json"),
        "few_shot_examples": few_shot_fingerprint,
        "decoding": {
            "temperature": cfg.temperature,
            "seed": cfg.seed,
            "max_new_tokens": cfg.max_new_tokens,
        },
        "versions": {"harness": harness_version()},
    }


def api_key(cfg: OpenAIModelConfig, config_key: str | None) -> str:
    """The key from the environment variable ``api_key_env`` names; ConfigError if unset."""
    if cfg.api_key_env is None:
        return _NO_AUTH_KEY
    value = os.environ.get(cfg.api_key_env, "").strip()
    if not value:
        where = f"{config_key}.api_key_env" if config_key else f"model {cfg.label!r}"
        raise ConfigError(
            f"{where}: environment variable {cfg.api_key_env} is not set; export "
            f"{cfg.api_key_env}=<your key> (or set api_key_env: null for a server without auth)"
        )
    return value


def check_openai_available(cfg: OpenAIModelConfig, config_key: str | None = None) -> None:
    """Fail before any request: the key's variable must be set and the URL well-formed."""
    api_key(cfg, config_key)
    try:
        check_base_url(cfg.base_url)
    except ValueError as e:
        raise ConfigError(f"{config_key or cfg.label}.base_url: {e}") from e


@dataclass(frozen=True)
class Answer:
    text: str
    flag: str | None


@dataclass
class _Job:
    """One ``translate`` call's shared state between the worker tasks."""

    sources: Sequence[str]
    on_batch: BatchCallback | None
    progress: RequestProgress
    outputs: list[str | None]
    flags: list[str | None]
    stats: RequestStats = field(default_factory=RequestStats)
    queue: deque[int] = field(default_factory=deque)  # positions not started, in order
    failure: SegmentError | None = None


class OpenAITranslator:
    """The Translator protocol over an OpenAI-compatible API (see the module docstring)."""

    backend = "openai"

    def __init__(self, cfg: OpenAIModelConfig, options: BuildOptions) -> None:
        self.cfg, self.options = cfg, options
        self.where = options.config_key or cfg.label
        self._key = api_key(cfg, options.config_key)
        self.few_shot, self.few_shot_info = [], None
        if cfg.prompt.few_shot is not None:
            self.few_shot, self.few_shot_info = load_few_shot(
                cfg.prompt.few_shot, base_dir=options.base_dir, where=self.where
            )
            check_no_overlap(self.few_shot, options.test_sources, self.where)
        self.endpoint = endpoint_of(cfg.base_url)
        # One loop for the translator's life: the client's connection pool belongs to it.
        self._loop = asyncio.new_event_loop()
        self._client: Any = None
        self._limiter: RateLimiter | None = None
        self._flags: list[str | None] = []
        self.last_stats: RequestStats | None = None
        self.server_models: set[str] = set()
        self.fingerprints: set[str] = set()

    def messages(self, source: str) -> list[dict[str, str]]:
        return chat_messages(self.cfg.prompt, self.few_shot, source)

    @property
    def last_flags(self) -> Sequence[str | None]:
        """Per input of the current (or last) ``translate`` call: None, or one flag (the
        runner's reading of ``last_flags``); see :meth:`segment_flags`."""
        return self._flags

    def segment_flags(self) -> Sequence[str | None]:
        """Per input of the current (or last) ``translate`` call: None, or one of
        :data:`FLAGS`. Filled as answers arrive, before ``on_batch`` hears of them, so the
        callback can read its positions. The live list, not a copy (read it, do not change
        it): the runner reads it once per answer."""
        return self._flags

    def translate(self, sources: Sequence[str], on_batch: BatchCallback | None = None) -> list[str]:
        """One output per source, in input order; raises :class:`SegmentError` when a request
        still fails after its retries (everything answered before is already in on_batch)."""
        check_no_overlap(self.few_shot, sources, self.where)
        n = len(sources)
        self._flags = [None] * n
        blank = blank_positions(sources)
        skip = set(blank)
        queue = deque(i for i in range(n) if i not in skip)
        progress = RequestProgress(len(queue), self.cfg.label, self.options.progress)
        job = _Job(sources, on_batch, progress, [None] * n, self._flags, queue=queue)
        for pos in blank:  # nothing to translate: no request, and no invented text
            job.outputs[pos] = ""
        if blank and on_batch is not None:
            on_batch(list(blank), [""] * len(blank))
        start = time.perf_counter()
        try:
            self._run_in_loop(self._run(job))
        finally:
            job.progress.close()
            job.stats.seconds = time.perf_counter() - start
            self.last_stats = job.stats
        if job.failure is not None:
            raise job.failure
        self._log_flags()
        done = [out for out in job.outputs if out is not None]
        if len(done) != n:
            raise SegmentError(job.outputs.index(None), f"{self.where}: no output for {{segment}}")
        return done

    def _run_in_loop(self, coro: Any) -> None:
        try:
            self._loop.run_until_complete(coro)
        except BaseException:
            # Ctrl-C (or a bug) left tasks behind in the loop: stop them before they resume
            # in the next call.
            pending = [t for t in asyncio.all_tasks(self._loop) if not t.done()]
            for task in pending:
                task.cancel()
            if pending:
                self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            raise

    async def _run(self, job: _Job) -> None:
        if not job.queue:
            return
        if self._client is None:
            self._client = self._make_client()
            self._limiter = RateLimiter(self.cfg.requests_per_minute)
        await self._worker(job, alone=True)  # the first request alone: a bad key fails once
        width = min(self.cfg.max_concurrency, len(job.queue))
        workers = [asyncio.ensure_future(self._worker(job)) for _ in range(width)]
        try:
            await asyncio.gather(*workers)
        finally:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)

    def _make_client(self) -> Any:
        import openai

        # max_retries=0: retries happen in _attempts, counted and rate-limited.
        return openai.AsyncOpenAI(
            api_key=self._key,
            base_url=self.cfg.base_url,
            timeout=self.cfg.timeout_s,
            max_retries=0,
        )

    async def _worker(self, job: _Job, alone: bool = False) -> None:
        while job.queue and job.failure is None:
            pos = job.queue.popleft()
            answer = await self._attempts(job, pos)
            if answer is None:
                return
            job.outputs[pos] = answer.text
            job.flags[pos] = answer.flag
            if job.on_batch is not None:
                job.on_batch([pos], [answer.text])
            if alone:
                return

    async def _attempts(self, job: _Job, pos: int) -> Answer | None:
        """Ask for ``job.sources[pos]`` until answered; None (and job.failure set) if not."""
        messages = self.messages(job.sources[pos])
        for retry in range(self.cfg.max_retries + 1):
            assert self._limiter is not None  # set in _run before any worker starts
            await self._limiter.wait()
            job.progress.started()
            job.stats.requests += 1
            started = time.perf_counter()
            try:
                answer = self._parse(await self._request(messages), job.stats)
            except Exception as e:  # the client's errors; anything else is re-raised
                failure = classify(e)
                if failure is None:
                    raise
                final = failure.auth or not failure.retryable or retry == self.cfg.max_retries
                job.progress.ended(False, retried=not final)
                if final:
                    # The first failure is the one reported; others in flight just stop.
                    job.failure = job.failure or self._failure(job, pos, failure, retry)
                    return None
                job.stats.retries[failure.reason] += 1
                log.debug("%s: input %d: %s; retrying", self.where, pos, failure.reason)
                await asyncio.sleep(backoff_s(retry, failure))
                continue
            job.stats.latencies.append(time.perf_counter() - started)
            job.stats.answered += 1
            job.progress.ended(True)
            return answer
        return None  # not reached: the last attempt returns above

    async def _request(self, messages: list[dict[str, str]]) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.cfg.model,
            "messages": messages,
            "temperature": self.cfg.temperature,
            # max_tokens, not max_completion_tokens: every OpenAI-compatible server knows it.
            "max_tokens": self.cfg.max_new_tokens,
            "n": 1,
        }
        if self.cfg.seed is not None:
            body["seed"] = self.cfg.seed
        # The client's low-level post (its errors, timeouts, headers), read as bytes: its typed
        # chat.completions.create spends ~3x our CPU per request on transforming the request
        # and building response models, which on a small machine caps the requests per second
        # (measured with scripts/bench_openai.py). The answer is checked in _parse instead.
        raw = await self._client.post("/chat/completions", body=body, cast_to=bytes)
        try:
            data = json.loads(raw)
        except ValueError as e:
            raise MalformedResponse(f"not JSON: {raw[:80]!r}") from e
        if not isinstance(data, dict):
            raise MalformedResponse(f"not a JSON object: {raw[:80]!r}")
        return data

    def _parse(self, data: dict[str, Any], stats: RequestStats) -> Answer:
        """Text and flag of one chat completion; MalformedResponse if it is not one."""
        choices = data.get("choices")
        choice = choices[0] if isinstance(choices, list) and choices else None
        message = choice.get("message") if isinstance(choice, dict) else None
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(message, dict) or not isinstance(content, str | None):
            raise MalformedResponse(f"no message in the first choice: {str(data)[:120]!r}")
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        stats.input_tokens += _count(usage.get("prompt_tokens"))
        stats.output_tokens += _count(usage.get("completion_tokens"))
        for seen, value in (
            (self.server_models, data.get("model")),
            (self.fingerprints, data.get("system_fingerprint")),
        ):
            if isinstance(value, str) and value:
                seen.add(value)
        text = (content or "").strip()
        if self.cfg.prompt.first_line_only:
            text = first_line(text)
        reason = choice.get("finish_reason") if isinstance(choice, dict) else None
        if message.get("refusal"):
            return Answer("", "refusal")
        if reason == "content_filter":
            return Answer("", "content_filter")
        if reason == "length":
            return Answer(text, "truncated")
        return Answer(text, None if content else "no_content")

    def _failure(self, job: _Job, pos: int, failure: Failure, retry: int) -> SegmentError:
        status = f"HTTP {failure.status}" if failure.status is not None else failure.reason
        detail = f" ({failure.detail})" if failure.detail else ""
        answered = job.stats.answered
        if failure.auth:
            hint = (
                f"set the environment variable {self.cfg.api_key_env} to a valid key"
                if self.cfg.api_key_env
                else "this server needs a key: set api_key_env to the variable holding it"
            )
            text = f"{status} from {self.endpoint}{detail}: {hint}"
        else:
            tries = f"after {retry} retries" if retry else "(not retryable)"
            text = (
                f"{{segment}} failed {tries}: {status}{detail}; the {answered} requests "
                "answered before are cached, rerun to resume"
            )
        text = text.replace("{", "{{").replace("}", "}}").replace("{{segment}}", "{segment}")
        return SegmentError(pos, f"{self.where} ({self.cfg.model}): {text}")

    def _log_flags(self) -> None:
        counts = {f: self._flags.count(f) for f in FLAGS if f in self._flags}
        if counts:
            log.warning(
                "%s: %s", self.where, ", ".join(f"{n} segment(s) {f}" for f, n in counts.items())
            )

    def provenance(self) -> Mapping[str, Any]:
        """What decides the outputs, what the server said it ran, and the last call's counts."""
        cfg = self.cfg
        flagged = {f: [i for i, x in enumerate(self._flags) if x == f] for f in FLAGS}
        return {
            "backend": self.backend,
            "name": cfg.label,
            "model": cfg.model,
            "endpoint": self.endpoint,
            "api_key_env": cfg.api_key_env,  # the variable's name, never its value
            "server": {
                "model_ids": sorted(self.server_models),
                "system_fingerprints": sorted(self.fingerprints),
            },
            "prompt": {
                "instruction": cfg.prompt.instruction,
                "system_prompt": cfg.prompt.system_prompt,
                "first_line_only": cfg.prompt.first_line_only,
                "few_shot": self.few_shot_info,
                "example": self.messages("{source}"),
            },
            "generation": {
                "temperature": cfg.temperature,
                "seed": cfg.seed,
                "max_new_tokens": cfg.max_new_tokens,
            },
            "requests": {
                "max_concurrency": cfg.max_concurrency,
                "requests_per_minute": cfg.requests_per_minute,
                "timeout_s": cfg.timeout_s,
                "max_retries": cfg.max_retries,
            },
            "price_per_million_tokens": (
                cfg.price_per_million_tokens.model_dump() if cfg.price_per_million_tokens else None
            ),
            "versions": {"openai": version_or_absent("openai")},
            "throughput": (
                self.last_stats.to_json(cfg.price_per_million_tokens) if self.last_stats else None
            ),
            "segment_flags": {f: pos for f, pos in flagged.items() if pos},
        }

    def close(self) -> None:
        """Close the client's connections and the event loop."""
        if self._loop.is_closed():
            return
        if self._client is not None:
            self._loop.run_until_complete(self._client.close())
            self._client = None
        self._loop.close()


def _count(value: Any) -> int:
    return value if isinstance(value, int) and value >= 0 else 0

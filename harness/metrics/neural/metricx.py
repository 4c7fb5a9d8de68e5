"""MetricX-24 (google-research/metricx) scored with plain transformers.

Follows the reference code at commit fc4978eb064670f7cc33e93ea4f52d38396b8ae6:
``metricx24/predict.py`` builds one input string per segment ("source: S candidate: H
reference: R", or without the reference part in QE mode), tokenizes it with the mT5 tokenizer
truncated to 1536 tokens and drops the last token (the EOS); ``metricx24/models.py``
(``MT5ForRegression``) runs the mT5 encoder, ONE decoder step from token id 0, and reads the
score from the output logit at vocabulary position 250089, clipped to 0..25. Lower is better.

The checkpoint loads as ``MT5ForConditionalGeneration`` (same weight names); instead of the
full 250,112-way output layer only its score row is kept and applied, which gives the same
number (a dot product with that row) and frees the layer's memory (about 1 GB for the XL
model in bf16). Differences from ``predict.py`` that do not change a score: segments are batched
by length under a token budget (the reference runs batch size 1: its Trainer cannot pad), and
run under ``torch.inference_mode``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from harness.errors import MetricError

if TYPE_CHECKING:
    from harness.metrics.neural.metricx_load import LoadedMetricX

log = logging.getLogger(__name__)

DEFAULT_MODEL = "google/metricx-24-hybrid-large-v2p6"
DEFAULT_TOKENIZER = "google/mt5-xl"
MAX_INPUT_LENGTH = 1536  # metricx README: MetricX-24 is run with --max_input_length 1536
SCORE_POSITION = 250089  # models.py: "250089 = <extra_id_10>"
SCORE_RANGE = (0.0, 25.0)  # models.py clips predictions to this range
DECODER_START_ID = 0  # models.py feeds token 0, whatever the config says
Mode = Literal["ref", "qe"]
_VERSIONED = ("torch", "transformers", "tokenizers", "sentencepiece")
_LOG_EVERY_S = 30.0
DTYPES = ("auto", "float32", "bfloat16", "float16", "float64")


@dataclass(frozen=True)
class MetricXSettings:
    """Everything a MetricX scorer is built from. ``max_tokens``: padded tokens per batch."""

    model: str = DEFAULT_MODEL
    revision: str | None = None
    tokenizer: str = DEFAULT_TOKENIZER
    tokenizer_revision: str | None = None
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    dtype: str = "auto"  # auto (bfloat16 on a GPU, float32 on CPU) | float32 | bfloat16 | float16
    batch_size: int = 16
    max_tokens: int = 8192
    max_input_length: int = MAX_INPUT_LENGTH
    config_key: str = "metricx"  # how error messages name the config entry
    progress: bool = True


@dataclass(frozen=True)
class MetricXRun:
    """Throughput of the last ``score`` call."""

    segments: int
    batches: int
    seconds: float
    input_tokens: int
    truncated: int
    segments_per_s: float


def format_input(source: str, hypothesis: str, reference: str | None) -> str:
    """The model input exactly as ``metricx24/predict.py`` builds it (no reference: QE mode)."""
    text = "source: " + source + " candidate: " + hypothesis
    return text if reference is None else text + " reference: " + reference


def reference_token_ids(full: Sequence[int], max_input_length: int) -> list[int]:
    """``tokenizer(text, max_length=L, truncation=True)`` then the last token (EOS) dropped.

    Truncation keeps the EOS and cuts the text before it, so both end up as ``full[:L-1]``;
    computing it from one untruncated encoding also says which inputs were cut.
    """
    return list(full[: min(len(full), max_input_length) - 1])


def load_metricx(
    model: str = DEFAULT_MODEL,
    revision: str | None = None,
    *,
    tokenizer: str = DEFAULT_TOKENIZER,
    device: str = "auto",
    dtype: str = "auto",
    batch_size: int = 16,
    max_tokens: int = 8192,
) -> MetricXScorer:
    """Load a MetricX-24 checkpoint (hub id or local folder) and its tokenizer."""
    settings = MetricXSettings(
        model=model,
        revision=revision,
        tokenizer=tokenizer,
        device=device,
        dtype=dtype,
        batch_size=batch_size,
        max_tokens=max_tokens,
    )
    return MetricXScorer.load(settings)


class MetricXScorer:
    """A loaded MetricX-24 model: ``score`` segments, ``identity`` for signatures and caches."""

    def __init__(self, settings: MetricXSettings, parts: LoadedMetricX) -> None:
        self.settings = settings
        self._parts: LoadedMetricX | None = parts
        self.last_run: MetricXRun | None = None

    @classmethod
    def load(cls, settings: MetricXSettings) -> MetricXScorer:
        if settings.batch_size < 1 or settings.max_tokens < 1 or settings.max_input_length < 2:
            raise MetricError(
                f"{settings.config_key}: batch_size and max_tokens must be >= 1 and "
                "max_input_length >= 2"
            )
        from harness.metrics.neural.metricx_load import load_parts

        return cls(settings, load_parts(settings))

    def release(self) -> None:
        """Free the model (and cached GPU memory), so that the next metric model fits."""
        import gc
        import sys

        self._parts = None
        gc.collect()
        torch = sys.modules.get("torch")
        if torch is not None and torch.cuda.is_available():
            torch.cuda.empty_cache()

    @property
    def parts(self) -> LoadedMetricX:
        if self._parts is None:
            raise MetricError(f"{self.settings.config_key}: the scorer was released")
        return self._parts

    @property
    def device(self) -> str:
        return self.parts.device

    @property
    def dtype(self) -> str:
        return str(self.parts.dtype).removeprefix("torch.")

    def score(
        self,
        sources: Sequence[str],
        hypotheses: Sequence[str],
        references: Sequence[str] | None = None,
    ) -> list[float]:
        """One score per segment, in input order (0..25, lower is better).

        ``references=None`` scores in QE mode (source and hypothesis only), which the hybrid
        MetricX-24 checkpoints are trained for.
        """
        refs = _check_lengths(self.settings.config_key, sources, hypotheses, references)
        texts = [format_input(s, h, r) for s, h, r in zip(sources, hypotheses, refs, strict=True)]
        if not texts:
            return []
        return self._score_texts(texts)

    def input_ids(
        self,
        sources: Sequence[str],
        hypotheses: Sequence[str],
        references: Sequence[str] | None = None,
    ) -> list[list[int]]:
        """The token ids the model sees per segment (predict.py's ``input_ids``), for checks."""
        refs = _check_lengths(self.settings.config_key, sources, hypotheses, references)
        texts = [format_input(s, h, r) for s, h, r in zip(sources, hypotheses, refs, strict=True)]
        return self._encode(texts)[0] if texts else []

    def identity(self, mode: Mode = "ref") -> dict[str, Any]:
        """Everything that decides the numbers, for signatures and segment-score cache keys."""
        if mode not in ("ref", "qe"):
            raise MetricError(
                f"{self.settings.config_key}: mode must be 'ref' or 'qe', not {mode!r}"
            )
        from harness import __version__
        from harness.translators.runtime import package_versions

        p = self.parts
        return {
            "metric": "metricx",
            "format": "metricx-24",
            "model": self.settings.model,
            "model_revision": p.model_revision,
            "requested_revision": self.settings.revision,
            "tokenizer": self.settings.tokenizer,
            "tokenizer_revision": p.tokenizer_revision,
            "mode": mode,
            "max_input_length": self.settings.max_input_length,
            "score_position": SCORE_POSITION,
            "dtype": self.dtype,
            "device": p.device.split(":")[0],
            "harness": __version__,
            **package_versions(_VERSIONED),
        }

    def signature(self, mode: Mode = "ref") -> str:
        """A sacrebleu-style one-liner of :meth:`identity`."""
        i = self.identity(mode)
        return (
            f"metricx:{i['model']}@{i['model_revision']}|tok:{i['tokenizer']}@"
            f"{i['tokenizer_revision']}|mode:{mode}|maxlen:{i['max_input_length']}|"
            f"dtype:{i['dtype']}|harness:{i['harness']}"
        )

    def _score_texts(self, texts: list[str]) -> list[float]:
        from harness.translators.batching import plan_batches

        start = time.perf_counter()
        rows, truncated = self._encode(texts)
        lengths = [len(r) for r in rows]
        batches = plan_batches(
            lengths, batch_size=self.settings.batch_size, max_tokens=self.settings.max_tokens
        )
        log.info(
            "%s: scoring %d segments on %s (%s) in %d batches%s",
            self.settings.config_key,
            len(texts),
            self.device,
            self.dtype,
            len(batches),
            " (CPU: slow for real checkpoints, see the progress lines)"
            if self.device == "cpu"
            else "",
        )
        scores: list[float | None] = [None] * len(texts)
        last_log = start
        done = 0
        for positions in batches:
            for pos, value in zip(
                positions, self._forward([rows[i] for i in positions]), strict=True
            ):
                scores[pos] = value
            done += len(positions)
            now = time.perf_counter()
            if self.settings.progress and now - last_log >= _LOG_EVERY_S:
                last_log = now
                rate = done / (now - start)
                log.info(
                    "%s: %d/%d segments, %.1f seg/s, ETA %.0f s",
                    self.settings.config_key,
                    done,
                    len(texts),
                    rate,
                    (len(texts) - done) / rate,
                )
        seconds = time.perf_counter() - start
        self.last_run = MetricXRun(
            len(texts),
            len(batches),
            seconds,
            sum(lengths),
            truncated,
            len(texts) / max(seconds, 1e-9),
        )
        missing = [i for i, s in enumerate(scores) if s is None]
        if missing:  # plan_batches never drops a position; this guards the invariant
            raise MetricError(f"{self.settings.config_key}: no score for positions {missing[:10]}")
        return [float(s) for s in scores if s is not None]

    def _encode(self, texts: list[str]) -> tuple[list[list[int]], int]:
        limit = self.settings.max_input_length
        p = self.parts
        full = p.tokenizer(texts, add_special_tokens=True)["input_ids"]
        if p.trailing_space_id is not None:
            full = [
                _with_trailing_space(row, p.trailing_space_id)
                if _ends_with_space(p.tokenizer, t)
                else row
                for row, t in zip(full, texts, strict=True)
            ]
        truncated = sum(1 for row in full if len(row) > limit)
        if truncated:
            log.warning(
                "%s: %d input(s) longer than %d tokens were truncated, as MetricX does",
                self.settings.config_key,
                truncated,
                limit,
            )
        return [reference_token_ids(row, limit) for row in full], truncated

    def _forward(self, rows: list[list[int]]) -> list[float]:
        """Scores of one batch: encoder, one decoder step, the score row, clipping."""
        import torch

        from harness.translators.runtime import pad_rows

        p = self.parts
        ids, mask = pad_rows(rows, p.pad_id)
        ids, mask = ids.to(p.device), mask.to(p.device)
        with torch.inference_mode():
            encoded = p.model.encoder(input_ids=ids, attention_mask=mask).last_hidden_state
            start = torch.full((len(rows), 1), DECODER_START_ID, dtype=torch.long, device=p.device)
            state = p.model.decoder(
                input_ids=start,
                encoder_hidden_states=encoded,
                encoder_attention_mask=mask,
                use_cache=False,
            ).last_hidden_state[:, 0]
            if p.tied:  # models.py rescales before a tied output layer, as T5 does
                state = state * (p.d_model**-0.5)
            values = (state @ p.score_row).float().clamp(*SCORE_RANGE)
        return values.cpu().tolist()


def _ends_with_space(tokenizer: Any, text: str) -> bool:
    """Whether ``text`` ends in a space after the tokenizer's normalizer, which maps tabs,
    newlines and NBSP to spaces as SentencePiece's nmt_nfkc rules do."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    normalizer = getattr(backend, "normalizer", None)
    normalized = normalizer.normalize_str(text) if normalizer is not None else text
    return normalized.endswith(" ")


def _with_trailing_space(row: list[int], space_id: int) -> list[int]:
    """``row`` (text ids + the final EOS) with the lone "▁" piece before the EOS."""
    return [*row[:-1], space_id, row[-1]]


def _check_lengths(
    key: str,
    sources: Sequence[str],
    hypotheses: Sequence[str],
    references: Sequence[str] | None,
) -> Sequence[str | None]:
    if len(sources) != len(hypotheses) or (
        references is not None and len(references) != len(sources)
    ):
        got = f"{len(sources)} sources, {len(hypotheses)} hypotheses"
        if references is not None:
            got += f", {len(references)} references"
        raise MetricError(f"{key}: segment counts differ ({got})")
    return [None] * len(sources) if references is None else references

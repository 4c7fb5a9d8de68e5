"""Encoder-decoder models (Marian, NLLB, M2M100, mBART-50, T5, MADLAD) run with transformers."""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from harness.errors import TranslatorError
from harness.translators.base import BatchCallback, BuildOptions
from harness.translators.batching import (
    BatchResult,
    RunSpec,
    TranslationStats,
    blank_positions,
    initial_flags,
    plan_batches,
    run_batches,
)
from harness.translators.config import HFModelConfig
from harness.translators.loading import ModelParts, load_with_errors, refresh_after_download
from harness.translators.runtime import (
    EncodedSources,
    check_placement,
    count_parameters,
    encode_sources,
    identity_provenance,
    load_kwargs,
    package_versions,
    pad_rows,
    resolve_device,
    resolve_dtype,
    source_token_limit,
)
from harness.translators.truncation import eos_token_ids, hit_token_limit

log = logging.getLogger(__name__)


def token_id(tokenizer: Any, token: str) -> int:
    """The id of a special token string such as ``vie_Latn``; raise if the tokenizer lacks it."""
    tid = tokenizer.convert_tokens_to_ids(token)
    if tid is None or (tid == tokenizer.unk_token_id and token != tokenizer.unk_token):
        raise TranslatorError(f"token {token!r} is not in the tokenizer's vocabulary")
    return int(tid)


def generation_settings(cfg: Any, parts: ModelParts) -> dict[str, Any]:
    """Settings that override the model's own generation config (greedy unless num_beams > 1)."""
    settings: dict[str, Any] = {
        "num_beams": cfg.num_beams,
        "max_new_tokens": cfg.max_new_tokens,
        # A checkpoint's max_length (NLLB: 200) would otherwise fight max_new_tokens.
        "max_length": None,
        "do_sample": False,
        "num_return_sequences": 1,
        # Sampling knobs left in a checkpoint's config are meaningless when greedy/beam.
        "temperature": None,
        "top_p": None,
        "top_k": None,
    }
    preset, tok = parts.preset, parts.tokenizer
    if preset.forced_bos_token:
        settings["forced_bos_token_id"] = token_id(tok, preset.forced_bos_token)
    if preset.decoder_start_token:
        settings["decoder_start_token_id"] = token_id(tok, preset.decoder_start_token)
    return settings


class HFSeq2SeqTranslator:
    """A transformers ``AutoModelForSeq2SeqLM`` with its family preset applied.

    Subclasses (the decoder-only translator) override the ``_``-prefixed hooks.
    """

    backend = "hf"
    auto_class = "AutoModelForSeq2SeqLM"
    pad_left = False

    def __init__(self, cfg: HFModelConfig, parts: ModelParts, options: BuildOptions) -> None:
        import torch
        import transformers

        self.cfg, self.options, self.preset = cfg, options, parts.preset
        self.tokenizer = parts.tokenizer
        where = options.config_key or parts.source.config_key
        check_placement(cfg, where)
        device = "cuda" if cfg.device_map else cfg.device
        self.device = resolve_device(device, parts.source.config_key)
        self.dtype = resolve_dtype(cfg.dtype, self.device)
        placed = load_kwargs(cfg, self.device, self.dtype)
        model = load_with_errors(
            parts.source,
            "model",
            getattr(transformers, self.auto_class).from_pretrained,
            dtype=self.dtype,
            trust_remote_code=cfg.trust_remote_code,
            **placed,
        )
        if placed:  # placed while loading; inputs go where the first layers are
            self.model = model.eval()
            self.device = str(model.device)
        else:
            self.model = model.to(self.device).eval()
        self.source = refresh_after_download(parts.source)
        if self.preset.src_lang is not None:
            self.tokenizer.src_lang = self.preset.src_lang
        self.generation = self._generation_settings(parts)
        gen = copy.deepcopy(self.model.generation_config)
        gen.update(**self.generation)
        # Set on the model (not passed per call) so generate() merges nothing behind our back.
        self.model.generation_config = gen
        if cfg.torch_compile:
            self.model.forward = torch.compile(self.model.forward, dynamic=True)
        self.limit = source_token_limit(self.tokenizer, self.model.config)
        self.pad_id = self._pad_id()
        self.last_stats: TranslationStats | None = None
        # Per input position of the last translate(): "truncated", "source_truncated".
        self.last_flags: list[tuple[str, ...]] = []

    def _generation_settings(self, parts: ModelParts) -> dict[str, Any]:
        return generation_settings(self.cfg, parts)

    def _pad_id(self) -> int:
        return int(self.model.config.pad_token_id)

    def _encode(self, sources: Sequence[str]) -> EncodedSources:
        return encode_sources(self.tokenizer, [self.preset.prepare(s) for s in sources], self.limit)

    def translate(self, sources: Sequence[str], on_batch: BatchCallback | None = None) -> list[str]:
        """One Vietnamese output per source, in input order."""
        if not sources:
            return []
        enc = self._encode(sources)
        blank = blank_positions(sources)
        batches = plan_batches(
            enc.lengths,
            batch_size=self.cfg.batch_size,
            max_tokens=self.cfg.max_tokens_per_batch,
            skip=blank,
        )
        spec = RunSpec(
            label=self.cfg.label,
            progress=self.options.progress,
            input_tokens=sum(enc.lengths),
            truncated_sources=enc.truncated,
            blank=blank,
        )
        self.last_flags = initial_flags(len(sources), enc.truncated_positions)
        hyps, self.last_stats = run_batches(
            len(sources),
            batches,
            lambda pos: self.generate_rows([enc.ids[i] for i in pos]),
            on_batch,
            spec,
            flags=self.last_flags,
        )
        return hyps

    def generate_rows(self, rows: Sequence[Sequence[int]]) -> BatchResult:
        """Generate for one batch of already-encoded sources; outputs in row order."""
        import torch

        ids, mask = pad_rows(rows, self.pad_id, left=self.pad_left)
        with torch.inference_mode():
            out = self.model.generate(
                input_ids=ids.to(self.device), attention_mask=mask.to(self.device)
            )
        out = out.cpu()
        new = self._new_tokens(out, ids.shape[1])
        texts = self.tokenizer.batch_decode(new, skip_special_tokens=True)
        generated = int((new != self.pad_id).sum())
        gen = self.model.generation_config
        truncated = hit_token_limit(
            self._generated(out, ids.shape[1]).tolist(),
            eos_token_ids(gen),
            self.cfg.max_new_tokens,
            gen.forced_eos_token_id is not None,
        )
        return BatchResult([self.preset.postprocess(t) for t in texts], generated, truncated)

    def _generated(self, out: Any, input_width: int) -> Any:
        """Everything generate() produced (the forced BOS included: it counts against
        max_new_tokens), then padding."""
        return out[:, 1:]  # column 0 is the decoder start token

    def _new_tokens(self, out: Any, input_width: int) -> Any:
        new = self._generated(out, input_width)
        forced = self.generation.get("forced_bos_token_id")
        # The forced language token is not text; some tokenizers (M2M100 in transformers 5)
        # do not count it as special, so decode would leave "__vi__" in the output.
        if forced is not None and new.shape[1] and bool((new[:, 0] == forced).all()):
            new = new[:, 1:]
        return new

    def provenance(self) -> Mapping[str, Any]:
        """Everything that decides the outputs, plus the last run's throughput."""
        gen = self.model.generation_config.to_diff_dict()
        gen.pop("transformers_version", None)
        return {
            **identity_provenance(self.backend, self.cfg, self.source),
            "architecture": type(self.model).__name__,
            "model_type": self.model.config.model_type,
            "parameters": count_parameters(self.model),
            "device": self.device,
            "dtype": str(self.dtype).removeprefix("torch."),
            "preset": self.preset.to_json(),
            "generation": {**gen, **self.generation},
            "batching": {
                "batch_size": self.cfg.batch_size,
                "max_tokens_per_batch": self.cfg.max_tokens_per_batch,
                "order": "source length, longest first",
                "max_source_tokens": self.limit,
            },
            "torch_compile": self.cfg.torch_compile,
            "quantization": self.cfg.quantization,
            "device_map": _device_map(self.model),
            "trust_remote_code": self.cfg.trust_remote_code,
            "versions": package_versions(),
            "throughput": self.last_stats.to_json() if self.last_stats else None,
        }


def _device_map(model: Any) -> dict[str, str] | None:
    """Where accelerate put each part of a model spread over GPUs (None on one device)."""
    placed = getattr(model, "hf_device_map", None)
    return {str(k): str(v) for k, v in placed.items()} if placed else None

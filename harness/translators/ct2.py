"""CTranslate2 backend: the Hugging Face model converted once, cached, and run with int8/fp16.

The same presets apply as with transformers: sources are encoded by the model's own tokenizer
(language codes and prefixes included), the forced first token becomes CTranslate2's target
prefix, and outputs go through the same post-processing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.errors import TranslatorError
from harness.store import default_mode
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
from harness.translators.config import CT2ModelConfig
from harness.translators.loading import (
    ModelParts,
    ModelSource,
    refresh_after_download,
    tokenizer_vocab,
)
from harness.translators.runtime import (
    encode_sources,
    identity_provenance,
    package_versions,
    source_token_limit,
)

log = logging.getLogger(__name__)

MARKER = "harness-ct2.json"  # written last: a folder without it is an unfinished conversion


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._]+", "--", text).strip("-.") or "model"


def _revision_tag(revision: str) -> str:
    return revision.removeprefix("sha256:")[:16]


def converted_dir(
    cache_dir: Path, source: ModelSource, compute_type: str, preset_start: bool = False
) -> Path:
    """``cache_dir/ct2/<model slug>-<revision>-<compute type>-<converter>[-startprefix]``.

    ``<converter>`` is a short hash of the ctranslate2 and transformers versions that convert:
    another converter may write another model from the same weights. A conversion for a preset
    that starts decoding from a target prefix (VinAI) differs from the plain one of the same
    weights, so it gets its own folder.
    """
    versions = package_versions(("ctranslate2", "transformers"))
    converter = hashlib.sha256(json.dumps(versions, sort_keys=True).encode()).hexdigest()[:8]
    name = f"{_slug(source.model_id)}-{_revision_tag(source.revision)}-{compute_type}-{converter}"
    return Path(cache_dir) / "ct2" / (name + ("-startprefix" if preset_start else ""))


def _converter_class() -> type:
    """``TransformersConverter`` with fixes for transformers 5 (seen with ctranslate2 4.8.5)."""
    from ctranslate2.converters import TransformersConverter

    class Converter(TransformersConverter):  # type: ignore[misc]
        def load_model(self, model_class: Any, path: str, **kwargs: Any) -> Any:
            config = kwargs.get("config")
            # CT2's BART loader reads these; MBartConfig no longer defines them, so a
            # checkpoint whose config.json omits them would fail. mBART is pre-norm with an
            # embedding layer norm, i.e. both True.
            if config is not None and config.model_type == "mbart":
                for key in ("normalize_before", "normalize_embedding"):
                    if key not in config.to_dict():
                        setattr(config, key, True)
            return super().load_model(model_class, path, **kwargs)

        def load_tokenizer(self, tokenizer_class: Any, path: str, **kwargs: Any) -> Any:
            if self._revision:  # upstream loads the tokenizer of "main" whatever the revision
                kwargs["revision"] = self._revision
            tok = super().load_tokenizer(tokenizer_class, path, **kwargs)
            # M2M100Tokenizer.get_vocab() omits the __xx__ language tokens in transformers 5,
            # so CT2 would build a vocabulary 100 entries short of the model's.
            if getattr(tok, "lang_token_to_id", None):
                full = tokenizer_vocab(tok)
                tok.get_vocab = lambda: full
            # MBart50Tokenizer no longer sets a BOS token unless its config names one, and a
            # null bos_token makes the converted model unloadable.
            if tok.bos_token is None and "<s>" in tok.get_vocab():
                tok.bos_token = "<s>"
            return tok

    return Converter


def _convert(source: ModelSource, cfg: CT2ModelConfig, tmp: Path, preset_start: bool) -> None:
    converter = _converter_class()(
        source.load_path,
        revision=source.load_revision,
        load_as_float16=cfg.compute_type in ("float16", "int8_float16"),
        trust_remote_code=cfg.trust_remote_code,
    )
    converter.convert(str(tmp), quantization=cfg.compute_type, force=True)
    if preset_start:
        # VinAI-style models start decoding from the target-language token itself; with no
        # decoder start token, CTranslate2 starts from the first target-prefix token instead.
        config_path = tmp / "config.json"
        config = json.loads(config_path.read_text("utf-8"))
        config["decoder_start_token"] = None
        config_path.write_text(json.dumps(config, indent=2), "utf-8")


def ensure_converted(
    source: ModelSource, cfg: CT2ModelConfig, cache_dir: Path, *, preset_start: bool = False
) -> tuple[Path, ModelSource, bool]:
    """Return (converted folder, source with resolved revision, whether it was converted now).

    Conversion writes to a temporary folder beside the target and renames it into place, so
    an interrupted conversion never leaves a half-written model under the final name.
    """
    # The config is already downloaded (load_parts read it), so a hub model's commit is known
    # before its weights are: the cache key never says "unresolved" when it need not.
    keyed = refresh_after_download(source)
    target = converted_dir(cache_dir, keyed, cfg.compute_type, preset_start)
    if (target / MARKER).is_file():
        return target, keyed, False
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".convert-", dir=target.parent))
    os.chmod(tmp, default_mode(directory=True))  # mkdtemp makes it private (0700)
    try:
        try:
            # Convert from the original source: a fresh hub snapshot holds no weights yet.
            _convert(source, cfg, tmp, preset_start)
        except (OSError, ValueError, KeyError, NotImplementedError) as e:
            raise TranslatorError(
                f"{source.config_key}: CTranslate2 could not convert {source.model_id!r}: {e}"
            ) from e
        meta = {
            "model": keyed.model_id,
            "revision": keyed.revision,
            "compute_type": cfg.compute_type,
            "decoder_start_from_prefix": preset_start,
            "versions": package_versions(("ctranslate2", "transformers")),
        }
        (tmp / MARKER).write_text(json.dumps(meta, indent=2), "utf-8")
        try:
            os.rename(tmp, target)
        except OSError:
            if not (target / MARKER).is_file():
                raise
            log.info("another process converted %s first; using its copy", source.model_id)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target, keyed, True


def resolve_ct2_device(device: str, where: str) -> tuple[str, int]:
    """(device, index) for ``ctranslate2.Translator``; ``auto`` picks CUDA when CT2 sees one."""
    import ctranslate2

    if device == "auto":
        return ("cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"), 0
    if device == "cpu":
        return "cpu", 0
    match = re.fullmatch(r"cuda(?::(\d+))?", device)
    if match is None:
        raise TranslatorError(f"{where}: unknown device {device!r} for ctranslate2 (cpu, cuda:N)")
    if ctranslate2.get_cuda_device_count() == 0:
        raise TranslatorError(f"{where}: device {device!r} requested but CTranslate2 sees no GPU")
    return "cuda", int(match.group(1) or 0)


def target_vocabulary(path: Path) -> list[str]:
    """Target-side tokens of a converted model, in id order (the HF model's ids)."""
    for name in ("target_vocabulary.json", "shared_vocabulary.json"):
        if (path / name).is_file():
            return list(json.loads((path / name).read_text("utf-8")))
    for name in ("target_vocabulary.txt", "shared_vocabulary.txt"):
        if (path / name).is_file():
            return (path / name).read_text("utf-8").splitlines()
    raise TranslatorError(f"converted model {path} has no vocabulary file")


def end_token(path: Path) -> str:
    """The token a converted model stops at (its config's ``eos_token``, else ``</s>``)."""
    try:
        config = json.loads((path / "config.json").read_text("utf-8"))
    except (OSError, ValueError):
        config = {}
    return str(config.get("eos_token") or "</s>")


def resolve_threads(cfg: CT2ModelConfig, device: str) -> tuple[int, int]:
    """(inter_threads, intra_threads): the configured values, or a choice for this machine."""
    if device != "cpu":
        return cfg.inter_threads or 1, cfg.intra_threads if cfg.intra_threads is not None else 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cores = cores or 1
    intra = cfg.intra_threads if cfg.intra_threads is not None else (1 if cores < 8 else 4)
    inter = cfg.inter_threads or max(1, cores // max(intra, 1))
    return inter, intra


class CT2Translator:
    """A ``ctranslate2.Translator`` over the converted model, with the family preset applied."""

    backend = "ctranslate2"

    def __init__(self, cfg: CT2ModelConfig, parts: ModelParts, options: BuildOptions) -> None:
        import ctranslate2

        self.cfg, self.options, self.preset = cfg, options, parts.preset
        self.tokenizer = parts.tokenizer
        if self.preset.src_lang is not None:
            self.tokenizer.src_lang = self.preset.src_lang
        self.path, self.source, self.converted_now = ensure_converted(
            parts.source,
            cfg,
            options.cache_dir,
            preset_start=self.preset.decoder_start_token is not None,
        )
        self.device, index = resolve_ct2_device(cfg.device, parts.source.config_key)
        self.threads = resolve_threads(cfg, self.device)
        self.translator = ctranslate2.Translator(
            str(self.path),
            device=self.device,
            device_index=index,
            compute_type=cfg.compute_type,
            inter_threads=self.threads[0],
            intra_threads=self.threads[1],
        )
        if self.device == "cuda":
            self._check_cuda_runtime()
        self.limit = source_token_limit(self.tokenizer, parts.config)
        # Output tokens map back to ids through the converted vocabulary, whose order is the
        # model's: tokenizer.convert_tokens_to_ids would turn tokens it does not list (M2M100's
        # filler words) into <unk> and decode differently from transformers.
        self.target_ids = {tok: i for i, tok in enumerate(target_vocabulary(self.path))}
        self.end_token = end_token(self.path)
        self.options_ct2 = self._decoding_options(parts.config)
        self.last_stats: TranslationStats | None = None
        # Per input position of the last translate(): "truncated", "source_truncated".
        self.last_flags: list[tuple[str, ...]] = []

    def _prefix_token(self) -> str | None:
        return self.preset.forced_bos_token or self.preset.decoder_start_token

    def _decoding_options(self, model_config: Any) -> dict[str, Any]:
        """translate_batch options equivalent to the HF backend's generation settings."""
        from transformers import GenerationConfig

        try:
            gen = GenerationConfig.from_pretrained(self.source.load_path)
        except OSError:  # no generation_config.json: the model config's defaults apply
            from harness.translators.torch_free import JsonModelConfig

            if isinstance(model_config, JsonModelConfig):
                model_config = model_config.full()  # every field, with the class defaults
            gen = GenerationConfig.from_model_config(model_config)
        # transformers counts a forced final EOS within max_new_tokens; CTranslate2 does not.
        forced_eos = gen.forced_eos_token_id is not None
        opts: dict[str, Any] = {
            "beam_size": self.cfg.num_beams,
            "max_decoding_length": max(1, self.cfg.max_new_tokens - forced_eos),
            "max_input_length": 0,  # truncation already happened (and was counted) here
            "length_penalty": float(gen.length_penalty or 1.0),
            "repetition_penalty": float(gen.repetition_penalty or 1.0),
            "no_repeat_ngram_size": int(gen.no_repeat_ngram_size or 0),
        }
        if gen.bad_words_ids:
            known = self.target_ids
            # Marian's <pad> is dropped from the converted vocabulary (it can never be generated
            # there), and CTranslate2 rejects unknown tokens: suppress only what exists.
            banned = [self.tokenizer.convert_ids_to_tokens(list(seq)) for seq in gen.bad_words_ids]
            banned = [seq for seq in banned if all(t in known for t in seq)]
            if banned:
                opts["suppress_sequences"] = banned
        return opts

    def translate(self, sources: Sequence[str], on_batch: BatchCallback | None = None) -> list[str]:
        """One Vietnamese output per source, in input order."""
        if not sources:
            return []
        enc = encode_sources(self.tokenizer, [self.preset.prepare(s) for s in sources], self.limit)
        blank = blank_positions(sources)
        batches = plan_batches(
            enc.lengths,
            batch_size=self.cfg.batch_size,
            max_tokens=self.cfg.max_tokens_per_batch,
            skip=blank,
        )
        started = time.perf_counter()  # batches start running as soon as they are submitted
        prefix = self._prefix_token()
        # Submit every batch at once: with inter_threads > 1 CTranslate2 runs several in
        # parallel, while results are still collected (and reported) in submission order.
        pending = {}
        for batch in batches:
            tokens = [self.tokenizer.convert_ids_to_tokens(enc.ids[i]) for i in batch]
            target = [[prefix] for _ in batch] if prefix else None
            # return_end_token: a hypothesis without it stopped at max_decoding_length.
            pending[batch[0]] = self.translator.translate_batch(
                tokens,
                target_prefix=target,
                asynchronous=True,
                return_end_token=True,
                **self.options_ct2,
            )
        spec = RunSpec(
            label=self.cfg.label,
            progress=self.options.progress,
            input_tokens=sum(enc.lengths),
            truncated_sources=enc.truncated,
            blank=blank,
            started=started,
        )
        self.last_flags = initial_flags(len(sources), enc.truncated_positions)
        hyps, self.last_stats = run_batches(
            len(sources),
            batches,
            lambda pos: self._collect(pending.pop(pos[0])),
            on_batch,
            spec,
            flags=self.last_flags,
        )
        return hyps

    def _check_cuda_runtime(self) -> None:
        """Translate one token now: CTranslate2 loads cuBLAS lazily, so a missing CUDA library
        would otherwise surface only at the first batch, after the whole set-up."""
        # A real word: CTranslate2 returns at once, running nothing, for an input of only </s>.
        tokens = self.tokenizer.convert_ids_to_tokens(self.tokenizer("Hello world")["input_ids"])
        try:
            self.translator.translate_batch([tokens], max_decoding_length=2)
        except (RuntimeError, ValueError) as e:
            raise TranslatorError(cuda_runtime_message(self.cfg.label, e)) from e

    def _collect(self, results: Sequence[Any]) -> BatchResult:
        prefix = self._prefix_token()
        texts, generated, truncated = [], 0, []
        for res in results:
            try:
                tokens = list(res.result().hypotheses[0])
            except (RuntimeError, ValueError) as e:
                raise TranslatorError(cuda_runtime_message(self.cfg.label, e)) from e
            ended = bool(tokens) and tokens[-1] == self.end_token
            tokens = tokens[:-1] if ended else tokens
            truncated.append(not ended)
            generated += len(tokens)
            if prefix and tokens[:1] == [prefix]:
                tokens = tokens[1:]
            ids = [self.target_ids[t] for t in tokens]
            texts.append(
                self.preset.postprocess(self.tokenizer.decode(ids, skip_special_tokens=True))
            )
        return BatchResult(texts, generated, truncated)

    def provenance(self) -> Mapping[str, Any]:
        """Everything that decides the outputs, plus the last run's throughput."""
        return {
            **identity_provenance(self.backend, self.cfg, self.source),
            "converted_model": str(self.path),
            "converted_now": self.converted_now,
            "compute_type": self.cfg.compute_type,
            "device": self.device,
            "inter_threads": self.threads[0],
            "intra_threads": self.threads[1],
            "preset": self.preset.to_json(),
            "generation": {**self.options_ct2, "target_prefix": self._prefix_token()},
            "batching": {
                "batch_size": self.cfg.batch_size,
                "max_tokens_per_batch": self.cfg.max_tokens_per_batch,
                "order": "source length, longest first",
                "max_source_tokens": self.limit,
            },
            "trust_remote_code": self.cfg.trust_remote_code,
            "versions": package_versions(),
            "throughput": self.last_stats.to_json() if self.last_stats else None,
        }


def cuda_runtime_message(label: str, error: BaseException) -> str:
    """CTranslate2's error, with what to do when a CUDA library is missing."""
    text = f"{label}: CTranslate2 failed: {error}"
    if "libcublas" in str(error) or "libcudnn" in str(error):
        text += (
            "\nthe ctranslate2 wheel is built against CUDA 12; install CUDA 12's libraries "
            "(e.g. pip install nvidia-cublas-cu12) or use backend: hf, or device: cpu"
        )
    return text

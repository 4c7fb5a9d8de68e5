"""``harness score``: score existing system output, printing exactly what ``sacrebleu`` prints.

``sacrebleu REF [REF2 ...] -i HYP -m bleu chrf ter -f text|json`` is the reference: same line
reading (split on ``\\n`` only, ``rstrip()`` each line), same metric defaults (chrF++ is
``-m chrf --chrf-word-order 2``), same ``-w 1`` width, same order (BLEU, chrF, chrF++, TER) and
alignment. Differences are deliberate and reported on stderr, never hidden:

* texts are put in Unicode NFC (and exotic spaces made plain) before scoring; when that changes
  anything, stderr gives the counts and the scores ``sacrebleu`` itself would print;
* mismatched line counts are an error naming both files (sacrebleu's API would truncate).

With ``--src`` the validity checks of :mod:`harness.validity` run too (those that need no
translator: not ``truncated``); their counts follow the scores, so the output is no longer
sacrebleu's: in JSON an object ``{"scores": [...], "validity": {flag: n},
"validity_segments": {flag: [line numbers]}}``, in text a ``validity:`` line.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import MetricError
from harness.metrics.evaluate import signature_with_norm
from harness.metrics.extraction import Request, extract_all
from harness.metrics.registry import (
    Extracted,
    MetricConfig,
    MetricInputs,
    get_metric,
    metric_config,
    metric_names,
    registry,
)
from harness.metrics.stats import sacre_score
from harness.textnorm import NormalizationSpec, apply_spec_all, normalize_boundary_all
from harness.validity.report import ValidityReport

_BOM = "\ufeff"


def score_files(
    hyp: Path,
    refs: Sequence[Path],
    metrics: Sequence[str | Mapping[str, Any]],
    fmt: str = "text",
    *,
    spec: NormalizationSpec | None = None,
    width: int = 1,
    source: Path | None = None,
) -> tuple[str, str]:
    """Return ``(stdout, stderr note)`` for scoring ``hyp`` against the reference files.

    ``fmt`` is ``"text"`` or ``"json"`` (sacrebleu's ``-f``). With the default (identity)
    ``spec`` and NFC input, stdout is byte-identical to the sacrebleu CLI's; when normalization
    changed any line, the signatures end in ``|textnorm:<what>``.
    """
    if fmt not in ("text", "json"):
        raise MetricError(f"unknown score format {fmt!r}; choose text or json")
    order = metric_names()
    # A relative checkpoint folder is taken from here and recorded absolute, as runs do.
    configs = {c.name: c.with_base_dir(Path.cwd()) for c in (metric_config(m) for m in metrics)}
    names = sorted(configs, key=order.index)
    if not names:
        raise MetricError("no metric to compute")
    if not refs:
        need = [n for n in names if get_metric(n).reference == "required"]
        if need:
            free = [n for n, spec in registry().items() if spec.reference != "required"]
            verb = "needs" if len(need) == 1 else "need"
            raise MetricError(
                f"no reference file given: {', '.join(need)} {verb} references (--ref FILE); "
                f"{', '.join(free[:-1])} and {free[-1]} can score without them"
            )
    models = [configs[n] for n in names if get_metric(n).kind != "string"]
    names = [n for n in names if get_metric(n).kind == "string"]
    if models and source is None:
        raise MetricError(
            f"{', '.join(c.name for c in models)} read the source too: pass --src SOURCE_FILE"
        )
    spec = spec or NormalizationSpec()
    files = _Files.read(Path(hyp), [Path(r) for r in refs])
    norm_hyps, hyp_changed = _normalize(files.hyp_lines, spec)
    norm_refs = [_normalize(stream, spec) for stream in files.ref_streams]
    # Item-major references; None when there are none (quality estimation: CometKiwi, ...).
    items = [list(r) for r in zip(*(texts for texts, _ in norm_refs), strict=True)] or None
    changed = [hyp_changed, *(n for _, n in norm_refs)]
    # NFC on NFC text changes nothing, and then the output is sacrebleu's to the byte; once
    # normalization changed any line, the numbers differ from sacrebleu's on these files and the
    # signature must say why.
    tag = None if spec.is_identity and not any(changed) else spec.tag
    inputs = MetricInputs(norm_hyps, items)
    extracted = (
        extract_all([Request(metric_config(n), inputs, spec.tag) for n in names]) if names else []
    )
    lines = [
        _format_one(name, e.stats, e.signature, width, fmt, tag)
        for name, e in zip(names, extracted, strict=True)
    ]
    if models:
        assert source is not None  # checked above
        sources, _ = normalize_boundary_all(read_lines(Path(source)))
        if len(sources) != len(norm_hyps):
            raise MetricError(
                f"{files.hyp} has {len(norm_hyps)} lines but {source} has {len(sources)}"
            )
        lines += _format_models(models, norm_hyps, items, sources, fmt, tag or "nfc")
    out = _assemble(lines, fmt)
    if source is not None:
        out = _with_validity(out, fmt, _validity(Path(source), files, norm_hyps))
    raw = _raw_stats(files, norm_hyps, items, names, extracted) if any(changed) and names else None
    return out, _note(files, changed, raw, spec, width)


def _raw_stats(
    files: _Files,
    norm_hyps: list[str],
    norm_items: list[list[str]],
    names: list[str],
    extracted: list[Extracted],
) -> dict[str, np.ndarray]:
    """Statistics of the files as read (what sacrebleu scores): a segment's row depends on that
    segment alone, so only the segments normalization changed are extracted again."""
    raw_items = files.items()
    changed = [
        i
        for i, (h, r) in enumerate(zip(files.hyp_lines, raw_items, strict=True))
        if h != norm_hyps[i] or r != norm_items[i]
    ]
    subset = MetricInputs([files.hyp_lines[i] for i in changed], [raw_items[i] for i in changed])
    fresh = extract_all([Request(metric_config(n), subset, "none") for n in names])
    out = {}
    for name, norm, new in zip(names, extracted, fresh, strict=True):
        stats = norm.stats.copy()
        stats[changed] = new.stats
        out[name] = stats
    return out


@dataclass(frozen=True)
class _Files:
    """The system output and reference files, read and checked for equal line counts."""

    hyp: Path
    refs: list[Path]
    hyp_lines: list[str]
    ref_streams: list[list[str]]

    @classmethod
    def read(cls, hyp: Path, refs: list[Path]) -> _Files:
        hyp_lines = read_lines(hyp)
        if not hyp_lines:
            raise MetricError(f"{hyp}: no lines to score")
        ref_streams = [read_lines(r) for r in refs]
        for ref_path, stream in zip(refs, ref_streams, strict=True):
            if len(stream) != len(hyp_lines):
                raise MetricError(
                    f"{hyp} has {len(hyp_lines)} lines but {ref_path} has {len(stream)}; "
                    "every line of the system output needs one reference line"
                )
        return cls(hyp, refs, hyp_lines, ref_streams)

    def items(self) -> list[list[str]]:
        """References item-major, as read (no normalization)."""
        return [list(r) for r in zip(*self.ref_streams, strict=True)]


def read_lines(path: Path) -> list[str]:
    """Lines as sacrebleu's CLI reads them: UTF-8, split on ``\\n``, each ``rstrip()``-ed.

    A ``.gz`` file is decompressed, as sacrebleu does. Invalid UTF-8 is an error naming the
    file and line.
    """
    try:
        data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise MetricError(f"cannot read {path}: {e}") from e
    raw = data.split(b"\n")
    if raw and raw[-1] == b"":  # the newline ending the last line does not start a new one
        raw.pop()
    out = []
    for number, line in enumerate(raw, start=1):
        try:
            out.append(line.decode("utf-8").rstrip())
        except UnicodeDecodeError as e:
            raise MetricError(f"{path}:{number}: not valid UTF-8 ({e.reason})") from e
    return out


def _normalize(texts: list[str], spec: NormalizationSpec) -> tuple[list[str], int]:
    return apply_spec_all(texts, spec) if not spec.is_identity else normalize_boundary_all(texts)


def _format_one(
    name: str, stats: np.ndarray, signature: str, width: int, fmt: str, tag: str | None
) -> str:
    score = sacre_score(name, stats)
    full = signature if tag is None else signature_with_norm(signature, tag)
    if fmt == "text":
        return score.format(width, False, full, False)
    # sacrebleu splits the signature on ":" to make JSON keys, so add the textnorm key afterwards.
    payload = json.loads(score.format(width, False, signature, True))
    if tag is not None:
        payload["signature"] = full
        payload["textnorm"] = tag
    return json.dumps(payload, indent=1, ensure_ascii=False)


def _validity(source: Path, files: _Files, hyps: list[str]) -> ValidityReport:
    """The text validity checks of every line (ids are 1-based line numbers)."""
    from harness.validity.checks import TEXT_FLAGS, all_segment_flags

    sources, _ = normalize_boundary_all(read_lines(source))
    if len(sources) != len(hyps):
        raise MetricError(
            f"{files.hyp} has {len(hyps)} lines but {source} has {len(sources)}; "
            "every line of the system output needs its source line"
        )
    flags = all_segment_flags(sources, hyps)
    ids = [str(i) for i in range(1, len(hyps) + 1)]
    return ValidityReport.build(ids, flags, flags=TEXT_FLAGS)


def _with_validity(out: str, fmt: str, report: ValidityReport) -> str:
    if fmt == "text":
        counts = ", ".join(f"{n} {name}" for name, n in report.counts.items())
        return out + f"validity: {counts} (of {report.total} lines)\n"
    scores = json.loads(out)
    payload = {
        "scores": scores if isinstance(scores, list) else [scores],
        "validity": report.counts_json(),
        "validity_segments": {k: [int(i) for i in v] for k, v in report.segments.items()},
        "validity_signature": report.signature,
    }
    return json.dumps(payload, indent=1, ensure_ascii=False) + "\n"


def _format_models(
    configs: Sequence[MetricConfig],
    hyps: list[str],
    refs: list[list[str]] | None,
    sources: list[str],
    fmt: str,
    tag: str,
) -> list[str]:
    """Lines for the metrics that load a model (COMET, MetricX, ...), one model at a time;
    per-segment scores are cached under the default cache folder."""
    from harness.config import resolve_cache_dir
    from harness.metrics.evaluate import extract_model_metrics

    inputs = MetricInputs(hyps, refs, sources, resolve_cache_dir(None))
    found = extract_model_metrics(configs, [inputs])[0]
    lines = []
    for config in configs:
        spec, extracted = get_metric(config.name), found[config.name]
        score = spec.corpus_score(extracted.stats).score
        signature = signature_with_norm(extracted.signature, tag)
        if fmt == "text":
            lines.append(f"{spec.display_name}|{signature} = {score:.4f}")
        else:
            payload = {
                "name": spec.display_name,
                "score": round(score, 4),
                "signature": signature,
                "higher_is_better": spec.higher_is_better,
                "segments": len(hyps),
            }
            lines.append(json.dumps(payload, indent=1, ensure_ascii=False))
    return lines


def _assemble(lines: list[str], fmt: str) -> str:
    """sacrebleu's ``print_single_results``: a JSON list, or lines aligned on ``=``."""
    if fmt == "json":
        return ("[\n" + ",\n".join(lines) + "\n]" if len(lines) > 1 else lines[0]) + "\n"
    if len(lines) == 1:
        return lines[0] + "\n"
    cut = [line.index("=") - 1 for line in lines]
    w = max(cut)
    return "".join(f"{line[:c]:>{w}}{line[c:]}\n" for c, line in zip(cut, lines, strict=True))


def _note(
    files: _Files,
    changed: list[int],
    raw: dict[str, np.ndarray] | None,
    spec: NormalizationSpec,
    width: int,
) -> str:
    """What normalization did (per file), and sacrebleu's own numbers when it changed text."""
    n = len(files.hyp_lines)
    what = "NFC + plain spaces" + ("" if spec.is_identity else f", then {spec.tag}")
    parts = [f"{files.hyp}: {changed[0]} of {n} lines changed"]
    parts += [f"{r}: {c} of {n}" for r, c in zip(files.refs, changed[1:], strict=True)]
    lines = [f"harness score: normalization {what} (textnorm:{spec.tag}); " + "; ".join(parts)]
    if raw is not None:
        scores = (sacre_score(m, stats) for m, stats in raw.items())
        plain = ", ".join(f"{s.name} = {s.score:.{width}f}" for s in scores)
        lines.append(
            f"harness score: without normalization (as sacrebleu scores these files): {plain}"
        )
    paths = [files.hyp, *files.refs]
    streams = [files.hyp_lines, *files.ref_streams]
    boms = [str(p) for p, s in zip(paths, streams, strict=True) if s and s[0].startswith(_BOM)]
    if boms:
        lines.append(
            f"harness score: warning: byte-order mark at the start of {', '.join(boms)} "
            "(kept, as sacrebleu keeps it)"
        )
    return "\n".join(lines) + "\n"

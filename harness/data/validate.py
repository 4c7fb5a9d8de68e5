"""From raw records to a :class:`LoadedDataset`: repairs that are counted, checks that fail loudly.

Order matters and is fixed: drop empty trailing pairs (reported), undo Moses tokenization if
asked, boundary-normalize (NFC, exotic spaces, a leading BOM, edge whitespace; each counted),
then refuse empty texts, duplicate ids and ragged reference counts, then take the subset. The
fingerprint in results.json is computed over exactly what the model and the metrics see.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from harness.data.base import RawLoad, RawRecord
from harness.data.moses import detokenize, moses_signals
from harness.errors import DatasetError
from harness.segments import LoadedDataset, LoadIssue, LoadReport, Segment, fingerprint
from harness.textnorm import normalize_boundary

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Options:
    """The per-dataset settings validation obeys (from the dataset's config)."""

    skip_empty: bool = False
    detokenize_references: bool = False
    detokenize_source: bool = False
    limit: int | None = None
    sample: int | None = None
    seed: int = 0
    expected_size: int | None = None  # a named benchmark's full size, to flag partial copies


def finalize(raw: RawLoad, name: str, opts: Options) -> LoadedDataset:
    """Validate and normalize ``raw``; raise :class:`DatasetError` on unusable data."""
    unpaired = list(raw.unpaired)
    repairs: Counter[str] = Counter(raw.repairs)
    notes = list(raw.notes)
    records = _drop_trailing_empty(raw.records, unpaired)
    notes += _moses_notes(records, opts)
    records = _detokenize(records, opts, repairs)
    records = _normalize(records, repairs)
    records = _drop_or_refuse_empty(records, opts.skip_empty, unpaired)
    _check_ids(records)
    _check_reference_counts(records)
    notes += _content_notes(records)
    full = [Segment(r.id, r.source, r.references) for r in records]
    if not full:
        files = _files_read(raw.provenance)
        read_from = f" from {', '.join(files)}" if files else ""
        empty = "; it is empty" if raw.records_in == 0 else ""
        raise DatasetError(
            f"dataset {name!r}: no segments could be loaded{read_from} "
            f"({raw.records_in} records read, {len(unpaired)} unusable: "
            f"{'; '.join(i.describe() for i in unpaired[:3]) or '-'}){empty}"
        )
    if opts.expected_size is not None and len(full) != opts.expected_size:
        notes.append(f"expected {opts.expected_size} segments (the full set), found {len(full)}")
    kept, subset = _subset(full, opts, notes)
    report = LoadReport(
        records_in=raw.records_in,
        segments_out=len(kept),
        unpaired=tuple(unpaired),
        repairs={k: v for k, v in sorted(repairs.items()) if v},
        notes=tuple(notes),
    )
    provenance: dict[str, Any] = {
        **raw.provenance,
        "skip_empty": opts.skip_empty,
        "detokenize_references": opts.detokenize_references,
        "detokenize_source": opts.detokenize_source,
        "subset": subset,
        "segments_before_subset": len(full),
    }
    if subset is not None:
        provenance["fingerprint_before_subset"] = fingerprint(full)
    log_report(name, report)
    return LoadedDataset(name=name, segments=tuple(kept), report=report, provenance=provenance)


def _files_read(provenance: dict[str, Any]) -> list[str]:
    """The files a source read, from its provenance (``path`` / ``hub_id`` entries)."""
    found: list[str] = []
    for key, value in provenance.items():
        if key in ("path", "hub_id") and isinstance(value, str):
            found.append(value)
        elif isinstance(value, dict):
            found += _files_read(value)
        elif isinstance(value, list):
            found += [f for v in value if isinstance(v, dict) for f in _files_read(v)]
    return list(dict.fromkeys(found))


def _is_blank(rec: RawRecord) -> bool:
    return not rec.source.strip() and not any(r.strip() for r in rec.references)


def _drop_trailing_empty(
    records: Sequence[RawRecord], unpaired: list[LoadIssue]
) -> list[RawRecord]:
    """An all-empty pair at the very end is a reader artifact (a final newline split on)."""
    out = list(records)
    dropped: list[RawRecord] = []
    while out and _is_blank(out[-1]):
        dropped.append(out.pop())
    for rec in reversed(dropped):
        unpaired.append(_issue(rec, "empty pair at the end of the data (dropped)"))
    return out


def _issue(rec: RawRecord, reason: str, text: str = "") -> LoadIssue:
    if rec.file is None:
        reason = f"{reason} ({rec.where})"
    return LoadIssue(reason=reason, text=text, file=rec.file, line=rec.line)


def _moses_notes(records: Sequence[RawRecord], opts: Options) -> list[str]:
    notes = []
    streams = [
        ("sources", "detokenize_source", opts.detokenize_source, [r.source for r in records])
    ]
    refs = [ref for r in records for ref in r.references]
    streams.append(("references", "detokenize_references", opts.detokenize_references, refs))
    for what, flag, applied, texts in streams:
        note = moses_signals(texts).describe(what, flag)
        if note and not applied:
            notes.append(note)
    return notes


def _detokenize(records: list[RawRecord], opts: Options, repairs: Counter[str]) -> list[RawRecord]:
    if not (opts.detokenize_source or opts.detokenize_references):
        return records
    out = []
    for rec in records:
        source, refs = rec.source, rec.references
        if opts.detokenize_source:
            source = detokenize(source, "en")
            repairs["moses_detokenized_sources"] += source != rec.source
        if opts.detokenize_references:
            refs = tuple(detokenize(r, "vi") for r in rec.references)
            repairs["moses_detokenized_references"] += sum(
                a != b for a, b in zip(refs, rec.references, strict=True)
            )
        out.append(replace(rec, source=source, references=refs))
    return out


def _clean(text: str, side: str, repairs: Counter[str]) -> str:
    if text.startswith("\ufeff"):  # a BOM read as text, e.g. by the IWSLT hub loader
        text = text[1:]
        repairs["bom"] += 1
    norm = normalize_boundary(text)
    stripped = norm.strip()
    # Counted only when something changed: most texts need nothing.
    if norm != text:
        repairs[f"nfc_or_spaces_{side}"] += 1
    if len(stripped) != len(norm):
        repairs[f"whitespace_{side}"] += 1
    return stripped


def _normalize(records: list[RawRecord], repairs: Counter[str]) -> list[RawRecord]:
    out = []
    for rec in records:
        source = _clean(rec.source, "sources", repairs)
        references = tuple(_clean(r, "references", repairs) for r in rec.references)
        if source != rec.source or references != rec.references:
            rec = replace(rec, source=source, references=references)
        out.append(rec)
    return out


def _empty_part(rec: RawRecord) -> str | None:
    """Where ``rec`` is empty, as words for a message, or None."""
    if not rec.source:
        return f"{rec.where}: empty source"
    for k, ref in enumerate(rec.references):
        if not ref:
            where = rec.ref_where[k] if rec.ref_where else rec.where
            return f"{where}: empty reference" + (f" {k + 1}" if len(rec.references) > 1 else "")
    return None


def _drop_or_refuse_empty(
    records: list[RawRecord], skip: bool, unpaired: list[LoadIssue]
) -> list[RawRecord]:
    kept = []
    for rec in records:
        problem = _empty_part(rec)
        if problem is None:
            kept.append(rec)
        elif skip:
            reason = problem.split(": ", 1)[1] + " (skip_empty)"
            unpaired.append(_issue(rec, reason, rec.source or rec.references[0]))
        else:
            raise DatasetError(
                f"{problem} (segment id {rec.id!r}); fix the data, or set `skip_empty: true` "
                "to drop such pairs and list them in the load report"
            )
    return kept


def _check_ids(records: Sequence[RawRecord]) -> None:
    first: dict[str, RawRecord] = {}
    for rec in records:
        if rec.id in first:
            raise DatasetError(
                f"duplicate segment id {rec.id!r}: {first[rec.id].where} and {rec.where}"
            )
        first[rec.id] = rec


def _check_reference_counts(records: Sequence[RawRecord]) -> None:
    # Metrics take references as streams (one list per reference set), so every segment must
    # have the same number; a ragged set would shift references between segments.
    if records and len({len(r.references) for r in records}) > 1:
        want = len(records[0].references)
        bad = next(r for r in records if len(r.references) != want)
        raise DatasetError(
            f"{bad.where}: {len(bad.references)} references, but {records[0].where} has {want}"
        )


def _count_note(records: Sequence[RawRecord], test: Callable[[str], bool], what: str) -> str | None:
    hits = [r.id for r in records if test(r.source) or any(test(x) for x in r.references)]
    if not hits:
        return None
    shown = ", ".join(hits[:5]) + (", ..." if len(hits) > 5 else "")
    return f"{len(hits)} segments {what} (ids {shown}); left as they are"


def _content_notes(records: Sequence[RawRecord]) -> list[str]:
    """Oddities worth knowing about that are not errors."""
    notes = [
        _count_note(
            records,
            lambda t: t.count("\u201c") != t.count("\u201d"),
            "have unbalanced curly quotes",
        ),
        _count_note(records, lambda t: "\n" in t or "\r" in t, "contain a line break"),
    ]
    notes.append(_nul_note(records))
    repeats = sum(1 for n in Counter(r.source for r in records).values() if n > 1)
    if repeats:
        notes.append(f"{repeats} source texts occur more than once")
    return [n for n in notes if n]


def _nul_note(records: Sequence[RawRecord]) -> str | None:
    """NUL characters pass through UTF-8 decoding and reach the model unseen (a C-string
    tokenizer may cut the text there): say where they are, with the count."""
    hits = [(r, r.source.count("\0") + sum(x.count("\0") for x in r.references)) for r in records]
    hits = [(r, n) for r, n in hits if n]
    if not hits:
        return None
    shown = ", ".join(r.where for r, _ in hits[:10]) + (", ..." if len(hits) > 10 else "")
    total = sum(n for _, n in hits)
    return f"{total} NUL byte(s) in {len(hits)} segment(s) ({shown}); left as they are"


def _subset(
    full: list[Segment], opts: Options, notes: list[str]
) -> tuple[list[Segment], dict[str, Any] | None]:
    n = len(full)
    if opts.limit is not None:
        kept = full[: opts.limit]
        notes.append(f"limit: kept the first {len(kept)} of {n} segments")
        return kept, {"limit": opts.limit, "of": n}
    if opts.sample is not None:
        if opts.sample >= n:
            notes.append(f"sample: asked for {opts.sample}, the data has {n}; kept all")
            return full, {"sample": opts.sample, "seed": opts.seed, "of": n}
        picked = sorted(random.Random(opts.seed).sample(range(n), opts.sample))
        notes.append(
            f"sample: {opts.sample} of {n} segments drawn with seed {opts.seed}, "
            "kept in input order"
        )
        return [full[i] for i in picked], {"sample": opts.sample, "seed": opts.seed, "of": n}
    return full, None


def log_report(name: str, report: LoadReport) -> None:
    """What a load skipped and noticed, as log lines (also for a dataset read from the memo)."""
    if report.unpaired:
        shown = "\n  ".join(issue.describe() for issue in report.unpaired[:20])
        more = f"\n  ... and {len(report.unpaired) - 20} more" if len(report.unpaired) > 20 else ""
        log.warning(
            "dataset %s: %d line(s)/record(s) not used:\n  %s%s",
            name, len(report.unpaired), shown, more,
        )  # fmt: skip
    for note in report.notes:
        log.info("dataset %s: %s", name, note)

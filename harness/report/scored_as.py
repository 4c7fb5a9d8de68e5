"""What makes two numbers comparable: the same dataset *as scored*.

A score is comparable to another only if both come from the same data (dataset fingerprint and
segment count) scored the same way (the metric's full signature: tokenizer, normalization,
metric version, number of references, checkpoint, ...). Tables, the HTML report and
``harness compare`` group results by :class:`ScoredAs` and never merge two different ones
silently: they refuse, naming what differs and where, unless asked to show them apart
(``--allow-mismatch``), and then every split column says what differs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from harness.errors import RunFolderError


@dataclass(frozen=True)
class ScoredAs:
    """One dataset as one metric scored it."""

    dataset: str
    fingerprint: str
    segments: int
    metric: str
    signature: str

    def same_data(self, other: ScoredAs) -> bool:
        return (self.fingerprint, self.segments) == (other.fingerprint, other.segments)


class MismatchError(RunFolderError):
    """Results that look alike (same dataset name and metric) were not computed alike."""


def signature_pairs(signature: str) -> dict[str, str]:
    """``"nrefs:1|tok:13a|textnorm:nfc"`` -> ``{"nrefs": "1", "tok": "13a", "textnorm": "nfc"}``.
    A part without ``:`` keeps its text as the key (older signatures)."""
    out: dict[str, str] = {}
    for part in signature.split("|"):
        key, _, value = part.partition(":")
        out[key] = value
    return out


def differences(a: ScoredAs, b: ScoredAs) -> list[str]:
    """What differs between two versions of one dataset × metric, in words:
    ``"segments: 5 vs 2"``, ``"data fingerprint: 1a2b3c4d5e6f vs 9f8e7d6c5b4a"``,
    ``"textnorm: nfc vs nfc+tone:hoà"``."""
    out = []
    if a.segments != b.segments:
        out.append(f"segments: {a.segments} vs {b.segments}")
    elif a.fingerprint != b.fingerprint:
        out.append(f"data fingerprint: {a.fingerprint[:12]} vs {b.fingerprint[:12]}")
    pa, pb = signature_pairs(a.signature), signature_pairs(b.signature)
    for key in dict.fromkeys([*pa, *pb]):
        if pa.get(key) != pb.get(key):
            out.append(f"{key}: {pa.get(key, '(absent)')} vs {pb.get(key, '(absent)')}")
    return out


def variant_labels(variants: Sequence[ScoredAs]) -> list[str]:
    """A short label per variant of one dataset × metric saying how it differs from the others:
    ``[2 segments]``, ``[data 9f8e7d6c5b4a]``, ``[textnorm:nfc+tone:hoà]``; ``""`` when there is
    only one variant."""
    if len(variants) < 2:
        return [""] * len(variants)
    seg_counts = {v.segments for v in variants}
    fingerprints = {v.fingerprint for v in variants}
    pairs = [signature_pairs(v.signature) for v in variants]
    keys = list(dict.fromkeys(k for p in pairs for k in p))
    varying = [k for k in keys if len({p.get(k) for p in pairs}) > 1]
    labels = []
    for variant, sig in zip(variants, pairs, strict=True):
        parts = []
        if len(seg_counts) > 1:
            parts.append(f"{variant.segments} segments")
        elif len(fingerprints) > 1:
            parts.append(f"data {variant.fingerprint[:12]}")
        parts += [f"{k}:{sig.get(k, '-')}" for k in varying]
        labels.append("[" + ", ".join(parts) + "]")
    # Identical labels would hide a difference the label scheme cannot see: number them.
    if len(set(labels)) < len(labels):
        labels = [f"{label[:-1]}, #{i + 1}]" for i, label in enumerate(labels)]
    return labels


def mismatch_message(
    title: str, dataset: str, first: tuple[ScoredAs, str], other: tuple[ScoredAs, str]
) -> str:
    """The refusal: which setting differs, between which runs, and what to do."""
    (a, where_a), (b, where_b) = first, other
    what = "; ".join(differences(a, b)) or "signature"
    return (
        f"{title} on {dataset} was not computed alike in {where_a} and {where_b} ({what}); "
        "these numbers cannot share a column\n"
        "rescore them alike, or pass --allow-mismatch to show them in separate, labelled columns"
    )

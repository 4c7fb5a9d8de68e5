"""The named benchmarks: what each is, where it comes from, and how its columns map.

Each entry turns a :class:`BenchmarkDataset` config into a :class:`DatasetSource`. None of the
hub benchmarks can be downloaded in CI; each mapping is tested on a small local dataset with the
same schema, and each hub failure on the message it gives.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from harness.data.base import DatasetSource
from harness.data.config import BenchmarkDataset, HFJoin
from harness.data.files import FilesSource
from harness.data.hf import HFSource, Location
from harness.data.interleaved import InterleavedSource
from harness.data.iwslt import HUB_ID as IWSLT_HUB_ID
from harness.data.iwslt import IwsltSource
from harness.data.rows import ColumnMap
from harness.errors import ConfigError, DatasetError


@dataclass(frozen=True)
class Where:
    """A benchmark config's paths, resolved against the config file's folder."""

    path: Path | None  # the config's `path:`
    cache_dir: Path | None  # the config's `cache_dir:`


Builder = Callable[[BenchmarkDataset, Where], DatasetSource]


@dataclass(frozen=True)
class BenchmarkInfo:
    """One row of ``harness datasets``."""

    name: str
    size: int  # segments the complete test set has
    license: str
    origin: str  # "bundled", a hub id, or "local files"
    notes: str
    build: Builder = field(repr=False, compare=False)
    needs_path: bool = False  # not downloadable: the config must give `path:`

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "size": self.size,
            "license": self.license,
            "origin": self.origin,
            "notes": self.notes,
            "needs_path": self.needs_path,
        }


def _hub(cfg: BenchmarkDataset, hub_id: str, where: Where) -> Location:
    if where.path is not None:
        return Location(path=where.path, cache_dir=where.cache_dir)
    return Location(dataset=hub_id, revision=cfg.revision, cache_dir=where.cache_dir)


def _itu(cfg: BenchmarkDataset, where: Where) -> DatasetSource:
    path = where.path
    if path is None:
        bundled = resources.files("harness.data").joinpath("sample/itu-wtisd-2021.en-vi.txt")
        path = Path(str(bundled))
    return InterleavedSource(path)


def _iwslt(test_set: str) -> Builder:
    return lambda cfg, where: IwsltSource(test_set, _hub(cfg, IWSLT_HUB_ID, where))


def _flores(split: str) -> Builder:
    join = HFJoin(source_config="eng_Latn", reference_config="vie_Latn", key="id")
    return lambda cfg, where: HFSource(
        _hub(cfg, "openlanguagedata/flores_plus", where),
        config=None,
        split=split,
        columns=ColumnMap(source="text", references=("text",)),
        join=join,
    )


def _opus100(cfg: BenchmarkDataset, where: Where) -> DatasetSource:
    return HFSource(
        _hub(cfg, "Helsinki-NLP/opus-100", where),
        config="en-vi",
        split="test",
        columns=ColumnMap(source="translation.en", references=("translation.vi",)),
    )


def _wmt24pp(cfg: BenchmarkDataset, where: Where) -> DatasetSource:
    # Columns: lp, domain, document_id, segment_id, is_bad_source, source, target (the
    # post-edited reference), original_target (the reference before post-editing). Rows whose
    # source was judged unusable (is_bad_source) are excluded, as the dataset card advises, and
    # each one is reported.
    return HFSource(
        _hub(cfg, "google/wmt24pp", where),
        config="en-vi_VN",
        split="train",
        columns=ColumnMap(source="source", references=("target",), exclude_if=("is_bad_source",)),
    )


def _phomt(cfg: BenchmarkDataset, where: Where) -> DatasetSource:
    # The PhoMT release unpacks to PhoMT/{detokenization,tokenization}/{train,dev,test}/
    # <split>.{en,vi}; scoring wants the detokenized text. `path` may be the PhoMT folder, its
    # parent, or the test folder itself.
    folder = _required(where.path, "phomt:test", "the PhoMT folder that holds detokenization/test/")
    for sub in ("detokenization/test", "PhoMT/detokenization/test", "test", "."):
        candidate = folder / sub
        if (candidate / "test.en").is_file():
            return FilesSource(candidate / "test.en", (candidate / "test.vi",))
    raise DatasetError(
        f"{folder}: no PhoMT test files; expected detokenization/test/test.en and test.vi "
        "under it (the layout of the PhoMT release)"
    )


def _ntrex(cfg: BenchmarkDataset, where: Where) -> DatasetSource:
    folder = _required(where.path, "ntrex128", "a folder holding newstest2019-src.eng.txt")
    return FilesSource(folder / "newstest2019-src.eng.txt", (folder / "newstest2019-ref.vie.txt",))


def _required(path: Path | None, name: str, what: str) -> Path:
    if path is None:
        raise ConfigError(
            f"benchmark {name!r} is read from local files, which the harness does not ship or "
            f"download: give `path:`, {what}"
        )
    return path


_IWSLT_NOTES = (
    "TED talks. The hub loader serves tst2013 as both validation and test and adds an empty "
    "trailing pair; text is Moses-tokenized with &quot;/&apos; escapes (all detected and "
    "reported; set detokenize_references to undo). `path:` may point at the Stanford files."
)
_FLORES_NOTES = (
    "FLORES+ (eng_Latn + vie_Latn joined by id, column text). Gated on the hub: accept the "
    "terms and log in. The old facebook/flores script no longer loads with datasets>=4."
)

BENCHMARKS: dict[str, BenchmarkInfo] = {
    info.name: info
    for info in (
        BenchmarkInfo(
            "itu-wtisd-2021", 5, "ITU public message (sample)", "bundled",
            "ITU World Telecommunication and Information Society Day 2021 message; interleaved "
            "EN/VI paragraphs, 4 lines cannot be paired (reported)",
            _itu,
        ),
        BenchmarkInfo(
            "iwslt15-en-vi:tst2012", 1553, "CC BY-NC-ND 4.0", IWSLT_HUB_ID,
            _IWSLT_NOTES + " The hub has no real tst2012: pass the files with `path:`.",
            _iwslt("tst2012"),
        ),
        BenchmarkInfo(
            "iwslt15-en-vi:tst2013", 1268, "CC BY-NC-ND 4.0", IWSLT_HUB_ID, _IWSLT_NOTES,
            _iwslt("tst2013"),
        ),
        BenchmarkInfo(
            "flores200:dev", 997, "CC BY-SA 4.0", "openlanguagedata/flores_plus", _FLORES_NOTES,
            _flores("dev"),
        ),
        BenchmarkInfo(
            "flores200:devtest", 1012, "CC BY-SA 4.0", "openlanguagedata/flores_plus",
            _FLORES_NOTES, _flores("devtest"),
        ),
        BenchmarkInfo(
            "opus100:test", 2000, "OPUS source corpora (mixed)", "Helsinki-NLP/opus-100",
            "config en-vi, translation: {en, vi}; subtitles and web text, noisy references",
            _opus100,
        ),
        BenchmarkInfo(
            "wmt24pp", 998, "Apache 2.0", "google/wmt24pp",
            "config en-vi_VN, only split train; references are post-edits (target); rows "
            "with is_bad_source are excluded and reported",
            _wmt24pp,
        ),
        BenchmarkInfo(
            "phomt:test", 19151, "research only, no redistribution (VinAI)", "local files",
            "PhoMT test set; `path:` to the PhoMT folder (detokenization/test/test.{en,vi})",
            _phomt, needs_path=True,
        ),
        BenchmarkInfo(
            "ntrex128", 1997, "CC BY-SA 4.0", "local files",
            "NTREX-128 news; `path:` to a folder with newstest2019-src.eng.txt and "
            "newstest2019-ref.vie.txt",
            _ntrex, needs_path=True,
        ),
    )
}  # fmt: skip


def list_benchmarks() -> list[BenchmarkInfo]:
    """Every named benchmark, in the order ``harness datasets`` shows them."""
    return list(BENCHMARKS.values())


def build_benchmark_source(cfg: BenchmarkDataset, base_dir: Path) -> DatasetSource:
    """The source that loads ``cfg.benchmark`` (from ``cfg.path`` when given)."""
    info = BENCHMARKS[cfg.benchmark]  # the config validated the name

    def resolve(value: str | None) -> Path | None:
        return base_dir / Path(value).expanduser() if value else None

    return info.build(cfg, Where(path=resolve(cfg.path), cache_dir=resolve(cfg.cache_dir)))


def render_benchmark_table(fmt: str = "markdown") -> str:
    """The benchmark list as ``markdown``, aligned ``text`` or ``json``."""
    from harness.data.availability import availability

    infos = list_benchmarks()
    here = [availability(i) for i in infos]  # offline, on this machine
    if fmt == "json":
        rows_json = [{**i.to_json(), "here": h} for i, h in zip(infos, here, strict=True)]
        return json.dumps(rows_json, indent=2, ensure_ascii=False) + "\n"
    header = ("name", "segments", "here", "license", "origin", "notes")
    rows = [
        (i.name, f"{i.size:,}", h, i.license, i.origin, i.notes)
        for i, h in zip(infos, here, strict=True)
    ]
    if fmt == "markdown":
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in r) + " |" for r in rows]
        return "\n".join(lines) + "\n"
    if fmt == "text":
        # Notes go last and unpadded: they are long, the other columns are short.
        widths = [max(len(r[c]) for r in [header, *rows]) for c in range(5)]
        return "".join(
            "  ".join(cell.ljust(w) for cell, w in zip(r[:5], widths, strict=True)) + f"  {r[5]}\n"
            for r in [header, *rows]
        )
    raise ConfigError(f"unknown table format {fmt!r}; choose markdown, text or json")

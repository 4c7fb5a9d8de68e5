"""Command line: the only place that parses argv, configures logging and picks exit codes.

Exit codes: 0 success, 2 a user-facing error (bad config, data, missing model, ...),
130 interrupted (translations finished so far stay in the cache), 1 a bug (traceback shown).
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from harness import __version__
from harness.distributed import current_rank
from harness.errors import HarnessError
from harness.hub import decide_when_needed

if TYPE_CHECKING:  # annotations only: each command imports what it needs when it runs
    from harness.segments import LoadedDataset
    from harness.store import ResultLeaf

log = logging.getLogger("harness")

TABLE_FORMATS = ("markdown", "csv", "json", "latex", "html")


def _metrics_arg(text: str) -> list[str]:
    from harness.metrics.registry import check_metric_names

    try:
        return check_metric_names([m for m in text.split(",") if m.strip()])
    except HarnessError as e:
        raise argparse.ArgumentTypeError(str(e)) from e


def _metric_entries_arg(text: str) -> list[str | dict[str, str]]:
    """``bleu,chrf,comet=/path/to/checkpoint``: names, or ``name=<model>`` for a metric that
    loads a checkpoint (a hub id or a local folder)."""
    from harness.metrics.registry import metric_config

    out: list[str | dict[str, str]] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, _, model = part.partition("=")
        entry: str | dict[str, str] = {"name": name, "model": model} if model else name
        try:
            metric_config(entry)
        except (HarnessError, ValueError) as e:
            raise argparse.ArgumentTypeError(str(e)) from e
        out.append(entry)
    return out


_MISMATCH_HELP = (
    "show results of one dataset name scored differently (other data, other settings) in "
    "separate, labelled columns instead of refusing"
)


_WORKERS_HELP = (
    "processes for metric statistics (default: $HARNESS_WORKERS, else every CPU; 1: no pool)"
)


def _set_workers(args: argparse.Namespace, reset: bool = False) -> None:
    """``--workers`` for this command only (tests call main() many times in one process)."""
    if getattr(args, "workers", None) is not None:
        from harness.metrics.parallel import set_workers

        set_workers(None if reset else args.workers)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="harness", description="Evaluate English→Vietnamese machine translation."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    parser.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    # The same flags after the command name (`harness run x.yaml -q`); SUPPRESS keeps a value
    # given before the command from being reset by the subcommand's default.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS)
    common.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser(
        "run", parents=[common], help="translate and score every model on every dataset"
    )
    run.add_argument("config", type=Path, help="YAML config (see configs/)")
    run.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY.PATH=VALUE",
        help="override a config value (repeatable)",
    )
    run.add_argument(
        "--baseline",
        metavar="MODEL",
        help="paired significance of every model against this one "
        "(same as --set statistics.baseline=MODEL)",
    )
    run.add_argument(
        "--no-cache",
        action="store_true",
        help="translate everything again instead of reusing cached translations",
    )
    run.add_argument("--format", choices=TABLE_FORMATS, default="markdown")
    run.add_argument("--workers", type=int, default=None, help=_WORKERS_HELP)

    table = sub.add_parser("table", parents=[common], help="compare finished runs side by side")
    table.add_argument("runs", nargs="+", type=Path, metavar="RUN_FOLDER")
    table.add_argument("--format", choices=TABLE_FORMATS, default="markdown")
    table.add_argument("--metrics", type=_metrics_arg, default=None)
    table.add_argument("--allow-mismatch", action="store_true", help=_MISMATCH_HELP)

    report = sub.add_parser(
        "report",
        parents=[common],
        help="the HTML report of finished runs: table, charts, segment browser, provenance",
    )
    report.add_argument("runs", nargs="+", type=Path, metavar="RUN_FOLDER")
    report.add_argument("-o", "--output", type=Path, required=True, metavar="FILE")
    report.add_argument("--metrics", type=_metrics_arg, default=None)
    report.add_argument("--title", default="EN→VI evaluation")
    report.add_argument("--allow-mismatch", action="store_true", help=_MISMATCH_HELP)

    score = sub.add_parser(
        "score", parents=[common], help="score existing system output (like the sacrebleu CLI)"
    )
    score.add_argument("--hyp", type=Path, required=True, help="system output, one per line")
    score.add_argument(
        "--src",
        type=Path,
        default=None,
        help="source file: also run the validity checks (empty, untranslated, off_target, ...)",
    )
    score.add_argument(
        "--ref",
        type=Path,
        action="append",
        default=[],
        help="reference file (repeat for several references; none for quality estimation "
        "with cometkiwi, xcomet or metricx)",
    )
    score.add_argument(
        "--metrics",
        type=_metric_entries_arg,
        default=["bleu", "chrf", "ter"],
        help="e.g. bleu,chrf,ter or bleu,comet=Unbabel/wmt22-comet-da (a hub id or a folder)",
    )
    score.add_argument("--format", choices=("text", "json"), default="json")
    score.add_argument(
        "--tone-marks",
        choices=("keep", "hòa", "hoà"),
        default="keep",
        help="put tone marks in one style on both sides before scoring",
    )
    score.add_argument(
        "--quotes",
        choices=("keep", "straight"),
        default="keep",
        help="curly quotes to straight on both sides before scoring",
    )
    score.add_argument("--workers", type=int, default=None, help=_WORKERS_HELP)

    compare = sub.add_parser(
        "compare", parents=[common], help="confidence intervals and paired significance"
    )
    compare.add_argument("runs", nargs="+", type=Path, metavar="RUN_FOLDER")
    compare.add_argument("--baseline", help="model name to test the others against")
    compare.add_argument("--metrics", type=_metrics_arg, default=None)
    compare.add_argument("--resamples", type=int, default=1000)
    compare.add_argument("--seed", type=int, default=12345)
    compare.add_argument("--method", choices=("bootstrap", "ar", "both"), default="bootstrap")
    compare.add_argument("--format", choices=("markdown", "csv", "json"), default="markdown")
    compare.add_argument("--allow-mismatch", action="store_true", help=_MISMATCH_HELP)

    from harness.cache_admin import add_cache_parser

    add_cache_parser(sub, common)

    datasets = sub.add_parser(
        "datasets", parents=[common], help="list built-in datasets, or show one"
    )
    datasets_sub = datasets.add_subparsers(dest="datasets_command")
    ds_list = datasets_sub.add_parser(
        "list", parents=[common], help="the table of named benchmarks (default)"
    )
    ds_list.add_argument("--format", choices=("markdown", "text", "json"), default="markdown")
    show = datasets_sub.add_parser(
        "show", parents=[common], help="print a dataset's pairs and its load report"
    )
    show.add_argument("name", help="benchmark name, e.g. itu-wtisd-2021")
    show.add_argument("--path", help="local copy, for benchmarks that need one")
    show.add_argument("--format", choices=("jsonl", "text"), default="jsonl")
    show.add_argument("--limit", type=int, default=None)
    return parser


def _configure_logging(verbose: int, quiet: bool) -> None:
    if quiet or not sys.stderr.isatty():
        # transformers/huggingface_hub read this at import: no "Loading weights" bars in logs.
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    # Default: the harness's INFO lines. -v: its DEBUG lines too, and the libraries' warnings;
    # -vv: the libraries' INFO lines as well. -q: warnings and errors only.
    level = logging.WARNING if quiet else (logging.DEBUG if verbose else logging.INFO)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO if verbose > 1 else logging.WARNING)
    logging.getLogger("harness").setLevel(level)
    # transformers/datasets chatter (e.g. tokenizer advice) is noise in a benchmark log.
    library_level = {0: logging.ERROR, 1: logging.WARNING}.get(verbose, logging.INFO)
    for noisy in ("transformers", "datasets", "huggingface_hub", "urllib3", "filelock"):
        logging.getLogger(noisy).setLevel(library_level)


def _cmd_run(args: argparse.Namespace) -> int:
    from harness.config import load_config
    from harness.runner import RunOptions, run_evaluation
    from harness.store import find_result_leaves

    overrides = list(args.overrides)
    if args.baseline:
        # JSON is YAML: quoted, a model called "2024" or "on" stays a string.
        overrides.append(f"statistics.baseline={json.dumps(args.baseline)}")
    resolved = load_config(args.config, overrides)
    decide_when_needed()
    rank = current_rank()
    progress = sys.stderr.isatty() and not args.quiet and (rank is None or rank.is_main)
    leaves = run_evaluation(resolved, RunOptions(use_cache=not args.no_cache, progress=progress))
    if not leaves:  # another process of a torchrun launch writes and prints the results
        return 0
    sys.stdout.write(_render(find_result_leaves([leaf.path for leaf in leaves]), None, args.format))
    log.info("run folder: %s", resolved.run_dir)
    return 0


def _cmd_table(args: argparse.Namespace) -> int:
    from harness.store import find_result_leaves

    leaves = find_result_leaves(args.runs)
    sys.stdout.write(_render(leaves, args.metrics, args.format, args.allow_mismatch))
    return 0


def _render(
    leaves: Sequence[ResultLeaf],
    metrics: Sequence[str] | None,
    fmt: str,
    allow_mismatch: bool = False,
) -> str:
    from harness.report.tables import build_table, render_table

    table = build_table(leaves, metrics, allow_mismatch=allow_mismatch)
    if fmt == "html":
        from harness.report.html import render_html

        return render_html(table, leaves)
    return render_table(table, fmt)


def _cmd_report(args: argparse.Namespace) -> int:
    from harness.report.run_reports import write_report

    path = write_report(
        args.runs, args.output, args.title, metrics=args.metrics, allow_mismatch=args.allow_mismatch
    )
    log.info("report: %s", path)
    return 0


def _cmd_score(args: argparse.Namespace) -> int:
    from harness.score_files import score_files
    from harness.textnorm import NormalizationSpec

    spec = NormalizationSpec(tone_marks=args.tone_marks, quotes=args.quotes)
    out, note = score_files(
        args.hyp, args.ref, args.metrics, args.format, spec=spec, source=args.src
    )
    sys.stdout.write(out)
    if note:
        sys.stderr.write(note if note.endswith("\n") else note + "\n")
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from harness.compare import compare_runs, render_comparison

    comparison = compare_runs(
        args.runs,
        baseline=args.baseline,
        metrics=args.metrics,
        resamples=args.resamples,
        seed=args.seed,
        method=args.method,
        allow_mismatch=args.allow_mismatch,
    )
    sys.stdout.write(render_comparison(comparison, args.format))
    return 0


def _cmd_datasets(args: argparse.Namespace) -> int:
    if args.datasets_command in (None, "list"):
        from harness.data import render_benchmark_table

        table = render_benchmark_table(getattr(args, "format", "markdown"))
        sys.stdout.write(table if table.endswith("\n") else table + "\n")
        return 0
    decide_when_needed()
    from harness.data import load_dataset
    from harness.data.config import parse_dataset_entry

    entry: dict[str, object] = {"kind": "benchmark", "benchmark": args.name}
    if args.path:
        entry["path"] = args.path
    if args.limit:
        entry["limit"] = args.limit
    data = load_dataset(parse_dataset_entry(entry), Path.cwd())
    _print_dataset(data, args.format)
    return 0


def _print_dataset(data: LoadedDataset, fmt: str) -> None:
    import json

    for seg in data.segments:
        if fmt == "jsonl":
            sys.stdout.write(json.dumps(seg.to_json(), ensure_ascii=False) + "\n")
        else:
            refs = "".join(f"  VI: {r}\n" for r in seg.references)
            sys.stdout.write(f"[{seg.id}]\n  EN: {seg.source}\n{refs}")
    report = data.report
    sys.stderr.write(
        f"{data.name}: {len(data.segments)} pairs from {report.records_in} records; "
        f"{len(report.unpaired)} lines could not be paired\n"
    )
    # The lines that could not be paired were logged (with line numbers) by the loader.
    for what, count in report.repairs.items():
        if count:
            sys.stderr.write(f"  repaired: {what}: {count}\n")
    sys.stderr.write(f"  fingerprint: sha256:{data.fingerprint}\n")


COMMANDS = {
    "run": _cmd_run,
    "table": _cmd_table,
    "report": _cmd_report,
    "score": _cmd_score,
    "compare": _cmd_compare,
    "datasets": _cmd_datasets,
    "cache": lambda args: args.cache_handler(args),
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (tests call this in-process)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help, --version, usage errors
        return int(e.code or 0)
    rank = current_rank()
    # Under torchrun only the first process reports; the others would repeat every line.
    _configure_logging(args.verbose, args.quiet or (rank is not None and not rank.is_main))
    try:
        _set_workers(args)
        return COMMANDS[args.command](args)
    except HarnessError as e:
        sys.stderr.write(f"error: {e}\n")
        return e.exit_code
    except KeyboardInterrupt:
        sys.stderr.write(
            "interrupted: finished translations are in the cache; "
            "rerun the same command to resume\n"
        )
        return 130
    except BrokenPipeError:  # e.g. `harness datasets show X | head`
        return 0
    finally:
        _set_workers(args, reset=True)


def main_entry() -> None:
    # A run allocates many long-lived objects (config models, segments, statistics) and few
    # cycles: the default threshold (700) sweeps them about 160 times in a cached rerun, a
    # tenth of its time (mypy raises it for the same reason). Freezing what is left before
    # exit keeps the interpreter from sweeping it once more on the way out (another 35 ms);
    # every file is closed by then, so nothing waits on a finalizer.
    gc.set_threshold(_GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
    code = main()
    gc.freeze()
    sys.exit(code)


_GC_YOUNG_THRESHOLD = 50_000

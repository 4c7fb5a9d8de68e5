"""The metric registry: one :class:`MetricSpec` per metric, and the only list of metrics.

Config validation, scoring, ``stats.npz``, tables, ``harness compare``, significance and the
HTML report all read a metric's name, direction, statistics and signature from here, so a new
metric is one module that defines its spec plus one line in :data:`_SPECS`.

Every metric works through per-segment sufficient statistics: ``extract`` returns an
``(n_segments, n_columns)`` array whose column sums give the corpus score back
(``scores_from_totals``). Bootstrap intervals and paired tests resample those rows, so they apply
to every metric alike. A metric with per-segment scores and a mean as corpus score (the neural
metrics) uses the columns ``("score", "count")``: see :func:`mean_of_segments`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from harness.configbase import StrictModel
from harness.errors import MetricError

if TYPE_CHECKING:  # numpy is imported where numbers are computed: a cached rerun needs none
    import numpy as np


class MetricConfig(StrictModel):
    """One entry of ``metrics:``; a bare name in YAML means ``{name: <it>}``. Metrics with
    options (a checkpoint, a batch size) subclass this as their spec's ``config_class``."""

    name: str

    def with_base_dir(self, base_dir: Path) -> MetricConfig:
        """This config with relative paths (a local checkpoint) taken from ``base_dir``."""
        return self


@dataclass(frozen=True)
class MetricInputs:
    """What a metric scores, aligned by segment: ``references[i]`` are segment i's references
    (item-major), ``sources[i]`` its source. Either may be None when the caller has none."""

    hypotheses: Sequence[str]
    references: Sequence[Sequence[str]] | None = None
    sources: Sequence[str] | None = None
    cache_dir: Path | None = None  # where metrics with a model keep per-segment scores


@dataclass(frozen=True)
class CorpusScore:
    """A corpus score computed exactly (as the reference implementation does) and its details."""

    score: float
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Extracted:
    """Per-segment statistics of one metric on one system, and the signature that says how
    they were computed (everything that can change the number)."""

    stats: np.ndarray
    signature: str
    extra: Mapping[str, Any] = field(default_factory=dict)  # e.g. per-segment error spans


@dataclass(frozen=True)
class MetricSpec:
    """Everything the harness knows about one metric.

    ``extract(config, inputs)`` computes per-segment statistics; ``corpus_score(stats)`` the
    exact corpus score from them; ``scores_from_totals(totals)`` the same vectorized over many
    resamples (``(R, n_columns)`` column sums -> ``(R,)``); ``segment_scores(stats)`` a score per
    segment where the metric has one (None: BLEU's corpus statistics do not give one).
    """

    name: str  # config name, also the key in results.json and stats.npz
    display_name: str  # the name the reference implementation prints (sacrebleu: chrF2)
    title: str  # table header
    higher_is_better: bool
    columns: tuple[str, ...]
    extract: Callable[[MetricConfig, MetricInputs], Extracted]
    corpus_score: Callable[[np.ndarray], CorpusScore]
    scores_from_totals: Callable[[np.ndarray], np.ndarray]
    segment_scores: Callable[[np.ndarray], np.ndarray] | None = None
    uses_source: bool = False
    reference: Literal["required", "optional", "none"] = "required"
    config_class: type[MetricConfig] = MetricConfig
    # "string" metrics are cheap and run per leaf; "neural" ones load a model, so the runner
    # runs them after all translation, one metric model at a time.
    kind: Literal["string", "neural"] = "string"
    description: str = ""
    decimals: int = 1  # what tables show: 1 for 0-100 scales, more for COMET's 0-1
    # Raises MetricError, in seconds and before anything is translated, when the metric cannot
    # run here (a checkpoint folder that is not there, one not cached while offline).
    check: Callable[[MetricConfig], None] | None = None
    # Everything besides the scored text that decides the statistics (a signature, a
    # checkpoint's pin), as JSON-able data; it keys the statistics cache
    # (:mod:`harness.metrics.stats_cache`). None: this metric's statistics are never cached.
    identity: Callable[[MetricConfig], Mapping[str, Any]] | None = None
    # The signature of ``extract(config, inputs)`` without extracting, where it depends on the
    # corpus as a whole (sacrebleu's nrefs) rather than on each segment; None: the signature
    # the rows were extracted with.
    signature: Callable[[MetricConfig, MetricInputs], str] | None = None

    @property
    def direction(self) -> str:
        return "higher is better" if self.higher_is_better else "lower is better"

    def check_stats(self, stats: np.ndarray, where: str = "") -> None:
        """Raise MetricError unless ``stats`` has this metric's shape."""
        want = len(self.columns)
        if stats.ndim != 2 or stats.shape[1] != want or stats.shape[0] == 0:
            raise MetricError(
                f"{where}{self.name} statistics have shape {stats.shape}; "
                f"expected (n_segments, {want})"
            )


def _specs() -> tuple[MetricSpec, ...]:
    # Imported here, not at module level: spec modules import this one for MetricSpec.
    from harness.metrics import neural_specs, string_metrics

    return (
        string_metrics.BLEU,
        string_metrics.CHRF,
        string_metrics.CHRF_PLUS,
        string_metrics.TER,
        neural_specs.COMET,
        neural_specs.COMETKIWI,
        neural_specs.XCOMET,
        neural_specs.METRICX,
    )


_REGISTRY: dict[str, MetricSpec] = {}


def registry() -> Mapping[str, MetricSpec]:
    """name -> spec, in the order tables and ``harness score`` list metrics."""
    if not _REGISTRY:
        _REGISTRY.update((spec.name, spec) for spec in _specs())
    return _REGISTRY


def metric_names() -> tuple[str, ...]:
    return tuple(registry())


def default_metric_names() -> tuple[str, ...]:
    """What ``metrics:`` means when a config leaves it out: the string metrics (no model)."""
    return tuple(name for name, spec in registry().items() if spec.kind == "string")


def get_metric(name: str) -> MetricSpec:
    """The spec of ``name`` (case-insensitive); unknown names raise with a suggestion."""
    key = name.strip().lower()
    specs = registry()
    if key in specs:
        return specs[key]
    import difflib  # only for a suggestion in an error message

    hint = difflib.get_close_matches(key, list(specs), n=1)
    extra = f"; did you mean {hint[0]!r}?" if hint else ""
    raise MetricError(f"unknown metric {name!r}{extra} (choose from {', '.join(specs)})")


def check_metric_names(names: Sequence[str]) -> list[str]:
    """Lower-case and validate metric names; unknown names raise with the valid ones listed."""
    return [get_metric(name).name for name in names]


def metric_config(entry: str | Mapping[str, Any] | MetricConfig) -> MetricConfig:
    """A ``metrics:`` entry (a name, a mapping with ``name`` and options, or a config) as the
    typed config of its metric."""
    if isinstance(entry, MetricConfig):
        return entry
    data: dict[str, Any] = {"name": entry} if isinstance(entry, str) else dict(entry)
    if not isinstance(data.get("name"), str):
        raise MetricError(f"metric entry {entry!r} needs a name")
    spec = get_metric(data["name"])
    return spec.config_class.model_validate({**data, "name": spec.name})


def mean_of_segments(totals: np.ndarray) -> np.ndarray:
    """``scores_from_totals`` for ``("score", "count")`` statistics: the mean segment score."""
    import numpy as np

    totals = np.asarray(totals, dtype=np.float64)
    counts = totals[:, 1]
    return np.where(counts > 0, totals[:, 0] / np.where(counts > 0, counts, 1.0), 0.0)


def segment_stats(scores: Sequence[float]) -> np.ndarray:
    """``("score", "count")`` statistics for per-segment scores."""
    import numpy as np

    values = np.asarray(scores, dtype=np.float64)
    return np.stack([values, np.ones_like(values)], axis=1)

"""The HTML report: one self-contained file (inline CSS, SVG and script; nothing fetched).

Sections: the comparison table with its notes and signatures, one grouped chart per metric,
p-values against the baseline, output validity and scores by source length (when the results
have them), a segment browser per dataset, and provenance. A Content-Security-Policy in the
page allows no network access at all and only the report's own script (by its hash), so even
markup that slipped through escaping could not run or load anything.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from functools import cache
from html import escape
from importlib import resources

from harness.report import provenance_html as prov
from harness.report import sections
from harness.report.browser import DatasetView, dataset_views, json_script
from harness.report.charts import PALETTE
from harness.report.tables import Table
from harness.store import ResultLeaf


@cache
def asset(name: str) -> str:
    """A file of harness/report/assets (package data)."""
    return resources.files("harness.report").joinpath("assets", name).read_text("utf-8")


def _csp(script: str) -> str:
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode()
    return (
        "default-src 'none'; style-src 'unsafe-inline'; "
        f"script-src 'sha256-{digest}'; img-src data:; base-uri 'none'; form-action 'none'"
    )


def render_html(table: Table, leaves: Sequence[ResultLeaf], title: str = "EN→VI evaluation") -> str:
    """The whole report as one HTML document."""
    report = sections.ReportInput(table, leaves)
    views = dataset_views(leaves, report.labels)
    for view in views:  # a system keeps its chart colour in the browser
        view.color_index = [table.models.index(s) if s in table.models else 0 for s in view.systems]
    script = asset("report.js")
    body = [
        _header(title, table, leaves),
        _section("results", "Results", sections.score_table(table) + sections.table_notes(table)),
        _section("charts", "Charts", sections.metric_charts(table)),
        _section("significance", "Significance", sections.significance_table(report)),
        _validity(report, views),
        _section("segments", "Segments", "".join(_browser(view) for view in views)),
        _section("provenance", "Provenance", _provenance(leaves, report.labels)),
    ]
    payload = {"colors": list(PALETTE), "views": [view.to_json() for view in views]}
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{_csp(script)}">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{escape(title)}</title><style>{asset('report.css')}</style></head>",
            "<body><main>",
            *body,
            "</main>",
            json_script("report-data", payload),
            f"<script>{script}</script>",
            "</body></html>",
        ]
    )


def _section(key: str, heading: str, content: str) -> str:
    return f'<section id="{key}"><h2>{escape(heading)}</h2>{content}</section>'


_NAV = (
    ("results", "Results"),
    ("charts", "Charts"),
    ("significance", "Significance"),
    ("validity", "Validity"),
    ("segments", "Segments"),
    ("provenance", "Provenance"),
)


def _header(title: str, table: Table, leaves: Sequence[ResultLeaf]) -> str:
    datasets = list(dict.fromkeys(leaf.dataset for leaf in leaves))
    dates = sorted(prov.finished_at(leaf) for leaf in leaves)
    versions = sorted(
        {str(leaf.results.get("environment", {}).get("harness_version", "?")) for leaf in leaves}
    )
    sub = (
        f"{len(table.models)} systems × {len(datasets)} datasets · "
        f"finished {dates[-1] if dates else 'unknown'} · harness {', '.join(versions)}"
    )
    nav = "".join(f'<a href="#{key}">{name}</a>' for key, name in _NAV)
    return (
        f'<header><h1>{escape(title)}</h1><p class="sub">{escape(sub)}</p></header><nav>{nav}</nav>'
    )


def _validity(report: sections.ReportInput, views: Sequence[DatasetView]) -> str:
    parts = []
    for view in views:
        counts = sections.validity_table(report, view)
        buckets = sections.bucket_chart(report, view)
        if counts or buckets:
            parts.append(f"<h3>{escape(_view_title(view, views))}</h3>{counts}{buckets}")
    if not parts:
        parts.append(
            '<p class="note">These results carry no validity checks or length analysis '
            "(written by a harness version without them).</p>"
        )
    else:
        parts.insert(
            0,
            '<p class="note">Flags describe outputs; they never change a score. A count '
            "shows those segments in the browser below.</p>",
        )
    return _section("validity", "Validity", "".join(parts))


def _view_title(view: DatasetView, views: Sequence[DatasetView]) -> str:
    """The dataset's name, with its fingerprint where two views share the name."""
    if sum(v.name == view.name for v in views) > 1:
        return f"{view.name} (data {view.fingerprint[:12]})"
    return view.name


def _browser(view: DatasetView) -> str:
    notes = "".join(f'<p class="warn">{escape(note)}</p>' for note in view.notes)
    n = len(view.ids)
    refs = max((len(r) for r in view.references), default=1)
    diff_note = (
        "Highlighted: characters of each output that differ from the "
        + ("first " if refs > 1 else "")
        + "reference (yellow: not in it; struck through: reference text the output lacks)."
    )
    return (
        f'<h3 id="segments-{view.key}">{escape(view.name)} '
        f'<span class="note">({n} segments, {len(view.systems)} systems)</span></h3>{notes}'
        f'<p class="note">{escape(diff_note)}</p>'
        f'<div class="browser" id="browser-{view.key}" data-segments="{n}"></div>'
    )


def _provenance(leaves: Sequence[ResultLeaf], labels: Sequence[str]) -> str:
    return "".join(
        [
            prov.run_facts(leaves),
            prov.load_warnings(leaves),
            "<h3>Models</h3>",
            prov.models_table(leaves, labels),
            "<h3>Datasets</h3>",
            prov.datasets_table(leaves),
            "<h3>Timing</h3>",
            prov.timing_table(leaves, labels),
        ]
    )

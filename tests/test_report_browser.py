"""The HTML report in a real browser: headless Chromium over the DevTools protocol, asserting on
the live DOM after interaction. Expected values come from the rules in report_cases.py, not
from the report code."""

from __future__ import annotations

import json

import pytest
from report_cases import HOSTILE, N_SEGMENTS, SYSTEMS, chrf, flags, source, write_run

from harness.cli import main

pytestmark = pytest.mark.browser

VIEW = "#browser-d0"


class Page:
    """The report open in the browser, with the few interactions the tests need."""

    def __init__(self, chromium, path):
        self.b = chromium
        chromium.goto(path.as_uri())
        assert chromium.console_errors() == []
        assert self.js("typeof window.__report") == "object"

    def js(self, expression):
        return self.b.evaluate(expression)

    def count(self) -> int:
        return int(self.js(f"document.querySelector('{VIEW} .status').dataset.count"))

    def shown(self) -> list[str]:
        return self.js(
            f"Array.from(document.querySelectorAll('{VIEW} article.seg'), a => a.dataset.id)"
        )

    def control(self, cls, value, event="change"):
        self.js(
            f"(() => {{ const c = document.querySelector('{VIEW} .{cls}'); "
            f"c.value = {json.dumps(str(value))}; c.dispatchEvent(new Event('{event}')); }})()"
        )

    def settle(self):  # the text filter waits for typing to pause
        self.b.evaluate("new Promise(r => setTimeout(r, 300))", await_promise=True)

    def pwned(self):
        return self.js("window.__pwned === undefined ? null : String(window.__pwned)")


def ids_where(predicate) -> list[str]:
    return [str(i) for i in range(N_SEGMENTS) if predicate(i)]


def test_table_charts_and_no_script_from_data(tmp_path, chromium):
    path = tmp_path / "report.html"
    assert main(["report", str(write_run(tmp_path)), "-o", str(path)]) == 0
    page = Page(chromium, path)
    assert page.js("document.querySelectorAll('#scores tbody tr').length") == len(SYSTEMS)
    rows = page.js("Array.from(document.querySelectorAll('#scores tbody th'), t => t.textContent)")
    assert rows == list(SYSTEMS)  # the hostile name shown as text
    assert page.js("document.querySelectorAll('figure.metric-chart svg').length") == 2
    assert page.js("document.querySelectorAll('figure.metric-chart g.bar').length") == 6
    assert page.js("document.querySelectorAll('figure.bucket-chart circle').length") == 3
    text = page.js(f"document.querySelector('{VIEW} article.seg[data-id=\"1\"] .src').textContent")
    assert source(1) in text
    assert page.pwned() is None
    assert page.js("document.querySelectorAll('img, iframe, svg script').length") == 0
    assert page.js("document.scripts.length") == 2
    # Nothing wider than a 1,400 px window: no sideways scrolling.
    assert page.js("document.documentElement.scrollWidth") <= 1400
    # Escaping, not only the Content-Security-Policy, keeps the payloads inert: without it too.
    html = path.read_text(encoding="utf-8")
    start = html.index('<meta http-equiv="Content-Security-Policy"')
    stripped = tmp_path / "no-csp.html"
    stripped.write_text(html[:start] + html[html.index(">", start) + 1 :], encoding="utf-8")
    page = Page(chromium, stripped)
    page.control("page-size", 100)
    assert page.count() == N_SEGMENTS and page.pwned() is None
    assert page.js("document.querySelectorAll('img, iframe').length") == 0
    assert HOSTILE[3] in page.js("document.body.textContent")


def test_segment_browser_filters_sorts_and_pages(tmp_path, chromium):
    path = tmp_path / "report.html"
    assert main(["report", str(write_run(tmp_path)), "-o", str(path)]) == 0
    page = Page(chromium, path)
    assert page.count() == N_SEGMENTS
    assert page.shown() == [str(i) for i in range(25)]
    page.js(f"document.querySelector('{VIEW} .next').click()")
    assert page.shown() == [str(i) for i in range(25, 50)]

    page.control("q", "topic 3", event="input")
    page.settle()
    assert page.shown() == ids_where(lambda i: i % 7 == 3)
    page.control("q", "", event="input")
    page.settle()
    page.control("flag-filter", "truncated")
    assert page.shown() == ids_where(lambda i: "truncated" in flags(0, i))
    page.control("flag-system", 1)
    assert page.count() == 0
    page.control("flag-system", -1)
    page.control("flag-filter", "*any")
    assert page.count() == len(ids_where(lambda i: any(flags(k, i) for k in range(3))))
    page.control("flag-filter", "")

    page.control("sort", "score")
    page.control("sys-a", 1)
    order = sorted(range(N_SEGMENTS), key=lambda i: chrf(1, i))
    assert page.shown() == [str(i) for i in order[:25]]
    page.control("dir", "desc")
    assert page.shown()[:3] == [str(i) for i in order[::-1][:3]]
    page.control("sort", "diff")
    page.control("sys-a", 0)
    page.control("sys-b", 2)
    gain = sorted(range(N_SEGMENTS), key=lambda i: (-(chrf(2, i) - chrf(0, i)), i))
    assert page.shown() == [str(i) for i in gain[:25]]
    head = page.js(f"document.querySelector('{VIEW} article.seg .sortval').textContent")
    assert head == f"B − A chrf: +{chrf(2, gain[0]) - chrf(0, gain[0]):.1f}"

    # A count in the validity table shows exactly those segments.
    page.js("document.querySelector('td.flagcount[data-flag=\"repetition\"] button').click()")
    assert page.js(f"document.querySelector('{VIEW} .flag-filter').value") == "repetition"
    assert sorted(page.shown(), key=int) == ids_where(lambda i: "repetition" in flags(1, i))
    assert page.js("window.__report.diffChars('abcX', 'abcY')") == [
        ["=", "abc"],
        ["-", "Y"],
        ["+", "X"],
    ]
    assert chromium.console_errors() == []


def test_report_of_a_real_run(tmp_path, tiny_marian, chromium):
    from test_cli import write_config

    assert main(["run", str(write_config(tmp_path, tiny_marian)), "-q"]) == 0
    page = Page(chromium, tmp_path / "runs" / "e2e" / "report.html")
    assert page.js("document.querySelectorAll('#scores tbody tr').length") == 1
    assert page.js("document.querySelectorAll('figure.metric-chart').length") == 4
    assert page.count() == 5 and len(page.shown()) == 5
    outputs = page.js(f"document.querySelectorAll('{VIEW} .out .hyp').length")
    assert outputs == 5

"""The HTML report as text: self-contained, escaped, every section from what results carry.
What a browser does with it is tested in test_report_browser.py."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from html.parser import HTMLParser

import pytest
from report_cases import DATASET, HOSTILE, N_SEGMENTS, SYSTEMS, write_run

from harness.cli import main
from harness.report.browser import json_script
from harness.report.html import render_html
from harness.report.tables import build_table
from harness.store import find_result_leaves


def page_of(run):
    leaves = find_result_leaves([run])
    return render_html(build_table(leaves), leaves)


class Parsed(HTMLParser):
    """Tags, attributes and script bodies of a page."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.scripts: list[tuple[dict, str]] = []
        self._in_script: dict | None = None
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._in_script = dict(attrs)

    def handle_data(self, data):
        if self._in_script is not None:
            self.scripts.append((self._in_script, data))

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = None


def test_json_script_cannot_be_broken_out_of():
    payload = {"a": list(HOSTILE), "b": "</SCRIPT >\u2028&amp;<!--"}
    block = json_script("x", payload)
    body = block[len('<script type="application/json" id="x">') : -len("</script>")]
    assert "<" not in body and ">" not in body and "&" not in body
    assert json.loads(body) == payload


def test_report_is_one_self_contained_file(tmp_path):
    page = page_of(write_run(tmp_path))
    parsed = Parsed(page)
    for tag, attrs in parsed.tags:
        for name in ("src", "href", "action", "srcset", "data"):
            value = attrs.get(name) or ""
            assert not re.match(r"^\s*(https?:)?//", value), (tag, name, value)
    # Two script elements: the data (not executable) and the report's script, allowed by hash.
    assert [attrs.get("type") for attrs, _ in parsed.scripts] == ["application/json", None]
    code = parsed.scripts[1][1]
    digest = base64.b64encode(hashlib.sha256(code.encode()).digest()).decode()
    csp = next(
        a["content"] for t, a in parsed.tags if a.get("http-equiv") == "Content-Security-Policy"
    )
    assert f"script-src 'sha256-{digest}'" in csp and "default-src 'none'" in csp
    data = json.loads(parsed.scripts[0][1])
    (view,) = data["views"]
    assert view["systems"] == list(SYSTEMS) and len(view["ids"]) == N_SEGMENTS
    assert view["scores"]["chrf"][2][5] == pytest.approx(((5 * 37 + 22) % 97) + 0.0205)


def test_no_string_from_data_reaches_the_page_as_markup(tmp_path):
    page = page_of(write_run(tmp_path))
    parsed = Parsed(page)
    assert not [t for t, _ in parsed.tags if t in ("img", "iframe")]
    assert [t for t, _ in parsed.tags].count("script") == 2
    assert not [a for _, attrs in parsed.tags for a in attrs if a.startswith("on")]
    assert "window.__pwned" not in parsed.scripts[1][1]  # only in the JSON data, escaped
    # The names are shown, as text.
    assert "&lt;script&gt;window.__pwned=&#x27;script&#x27;&lt;/script&gt;" in page
    assert "&quot;&gt;&lt;img src=x onerror=" in page


def test_sections_from_the_results(tmp_path):
    page = page_of(write_run(tmp_path))
    for heading in ("Results", "Charts", "Significance", "Validity", "Segments", "Provenance"):
        assert f"<h2>{heading}</h2>" in page
    assert page.count('<tr class="system">') == len(SYSTEMS)
    assert page.count('class="metric-chart"') == 2  # one grouped chart per metric
    assert page.count('class="bucket-chart"') == 1
    # Validity: a button per non-zero count, for the system and flag it filters on.
    assert 'data-system="0" data-flag="truncated"><button type="button">6</button>' in page
    assert 'data-system="2" data-flag="off_target"><button type="button">3</button>' in page
    assert "0.0100 / 0.0200" in page  # sys-b's Holm-adjusted p-values against sys-a


def test_results_without_validity_or_segments_still_render(tmp_path):
    run = write_run(tmp_path, with_validity=False)
    (run / "m1" / "ds" / "segments.jsonl").unlink()
    page = page_of(run)
    assert "carry no validity checks" in page
    assert "sys-b: segments not shown" in page
    view = json.loads(Parsed(page).scripts[0][1])["views"][0]
    assert view["systems"] == [SYSTEMS[0], SYSTEMS[2]] and view["flags"] == [[], []]


def test_harness_report_command(tmp_path, capsys):
    run = write_run(tmp_path)
    out = tmp_path / "out" / "r.html"
    assert main(["report", str(run), "-o", str(out), "--title", "My <eval>"]) == 0
    page = out.read_text(encoding="utf-8")
    assert "<title>My &lt;eval&gt;</title>" in page and DATASET not in page
    assert main(["report", str(tmp_path / "nope"), "-o", str(out)]) == 2
    assert "run folder not found" in capsys.readouterr().err

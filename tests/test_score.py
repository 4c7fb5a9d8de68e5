"""score_files() prints what the sacrebleu CLI prints, byte for byte, and checks its input.

Each case runs the real CLI (``python -m sacrebleu``, 2.6.0 in the pinned venv) on the same
files. The golden text below was printed by:

    NO_COLOR=1 sacrebleu tests/fixtures/metrics/ref.vi.txt -i tests/fixtures/metrics/hyp.vi.txt \\
        -m bleu chrf ter -f text        # sacrebleu 2.6.0
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

from harness.errors import MetricError
from harness.score_files import read_lines, score_files
from harness.textnorm import NormalizationSpec

FIX = Path(__file__).parent / "fixtures" / "metrics"
REF, REF2, HYP = FIX / "ref.vi.txt", FIX / "ref2.vi.txt", FIX / "hyp.vi.txt"

GOLDEN_TEXT = (
    "        BLEU|nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0 = 34.6 "
    "86.3/46.5/30.5/20.0 (BP = 0.875 ratio = 0.883 hyp_len = 999 ref_len = 1132)\n"
    "      chrF2|nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.6.0 = 55.8\n"
    "TER|nrefs:1|case:lc|tok:tercom|norm:no|punct:yes|asian:no|version:2.6.0 = 33.4\n"
)


def sacrebleu_cli(refs: list[Path], hyp: Path, args: list[str]) -> str:
    env = {**os.environ, "NO_COLOR": "1"}
    cmd = [sys.executable, "-m", "sacrebleu", *map(str, refs), "-i", str(hyp), "-q", *args]
    done = subprocess.run(cmd, capture_output=True, check=True, env=env)
    return done.stdout.decode("utf-8")


def test_golden_text() -> None:
    out, note = score_files(HYP, [REF], ["bleu", "chrf", "ter"], "text")
    assert out == GOLDEN_TEXT
    assert "0 of 35 lines changed" in note and "norm:nfc" in note


@pytest.mark.parametrize(
    ("metrics", "refs", "fmt", "cli_args"),
    [
        (["bleu", "chrf", "ter"], [REF], "text", ["-m", "bleu", "chrf", "ter", "-f", "text"]),
        (["bleu", "chrf", "ter"], [REF], "json", ["-m", "bleu", "chrf", "ter"]),
        (["chrf++"], [REF], "text", ["-m", "chrf", "--chrf-word-order", "2", "-f", "text"]),
        (["chrf++"], [REF], "json", ["-m", "chrf", "--chrf-word-order", "2"]),
        (["TER", "bleu"], [REF, REF2], "text", ["-m", "ter", "bleu", "-f", "text"]),
        (["bleu"], [REF, REF2], "json", ["-m", "bleu"]),
        (["chrf"], [REF, REF2], "text", ["-m", "chrf", "-f", "text"]),
    ],
)
def test_byte_identical_to_sacrebleu_cli(metrics, refs, fmt, cli_args) -> None:
    out, _ = score_files(HYP, refs, metrics, fmt)
    assert out == sacrebleu_cli(refs, HYP, cli_args)


def test_crlf_gzip_and_trailing_spaces_read_like_sacrebleu(tmp_path: Path) -> None:
    lines = read_lines(HYP)
    crlf = tmp_path / "hyp.crlf.txt"
    crlf.write_bytes("".join(f"{line}  \r\n" for line in lines).encode("utf-8"))
    packed = tmp_path / "hyp.txt.gz"
    packed.write_bytes(gzip.compress(HYP.read_bytes()))
    for path in (crlf, packed):
        out, _ = score_files(path, [REF], ["bleu", "chrf"], "text")
        assert out == sacrebleu_cli([REF], path, ["-m", "bleu", "chrf", "-f", "text"])
    assert read_lines(crlf) == lines


def test_nfd_input_is_scored_as_nfc_and_the_raw_numbers_are_reported(tmp_path: Path) -> None:
    nfd = tmp_path / "hyp.nfd.txt"
    text = HYP.read_text(encoding="utf-8")
    nfd.write_text(unicodedata.normalize("NFD", text), encoding="utf-8")
    changed = sum(unicodedata.normalize("NFD", line) != line for line in text.splitlines())
    out, note = score_files(nfd, [REF], ["bleu"], "text")
    # The numbers of the NFC file; the signature says that normalization made them so.
    expected = sacrebleu_cli([REF], HYP, ["-m", "bleu", "-f", "text"])
    assert out == expected.replace("|version:2.6.0 = ", "|version:2.6.0|textnorm:nfc = ")
    raw = sacrebleu_cli([REF], nfd, ["-m", "bleu", "-f", "text", "-b"]).strip()
    assert f"{changed} of 35 lines changed" in note
    assert f"without normalization (as sacrebleu scores these files): BLEU = {raw}" in note
    assert float(raw) < 10  # sacrebleu on NFD Vietnamese: the case normalization exists for


def test_tone_spec_is_in_the_signature(tmp_path: Path) -> None:
    spec = NormalizationSpec(tone_marks="hòa")
    text, _ = score_files(HYP, [REF], ["bleu", "ter"], "text", spec=spec)
    assert text.count("|version:2.6.0|textnorm:nfc+tone:hòa = ") == 2
    payload = json.loads(score_files(HYP, [REF], ["bleu", "ter"], "json", spec=spec)[0])
    assert [p["textnorm"] for p in payload] == ["nfc+tone:hòa"] * 2
    assert payload[1]["norm"] == "no"  # TER's own "norm" key is left alone
    _, note = score_files(HYP, [REF], ["bleu"], "text", spec=spec)
    assert "then nfc+tone:hòa" in note and "without normalization" in note


def test_mismatched_line_counts_name_both_files(tmp_path: Path) -> None:
    short = tmp_path / "short.txt"
    short.write_text("một\nhai\n", encoding="utf-8")
    with pytest.raises(MetricError) as err:
        score_files(HYP, [REF, short], ["bleu"], "text")
    assert str(err.value).startswith(f"{HYP} has 35 lines but {short} has 2")


def test_invalid_utf8_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"ok\nok\n\xff\xfe broken\n")
    with pytest.raises(MetricError, match=rf"{bad}:3: not valid UTF-8"):
        read_lines(bad)


def test_empty_lines_are_kept_and_an_empty_file_is_refused(tmp_path: Path) -> None:
    gaps = tmp_path / "gaps.txt"
    gaps.write_text("a\n\nb\n", encoding="utf-8")
    assert read_lines(gaps) == ["a", "", "b"]
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(MetricError, match="no lines to score"):
        score_files(empty, [empty], ["bleu"], "text")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"metrics": ["bleu"], "fmt": "latex"}, "unknown score format 'latex'"),
        ({"metrics": ["meteor"], "fmt": "text"}, "unknown metric 'meteor'"),
        ({"metrics": [], "fmt": "text"}, "no metric"),
    ],
)
def test_bad_arguments(kwargs, message: str) -> None:
    with pytest.raises(MetricError, match=message):
        score_files(HYP, [REF], **kwargs)


def test_byte_order_mark_is_kept_like_sacrebleu_and_reported(tmp_path: Path) -> None:
    bom = tmp_path / "hyp.bom.txt"
    bom.write_bytes(b"\xef\xbb\xbf" + HYP.read_bytes())
    out, note = score_files(bom, [REF], ["chrf"], "text")
    assert out == sacrebleu_cli([REF], bom, ["-m", "chrf", "-f", "text"])
    assert f"byte-order mark at the start of {bom}" in note
    with pytest.raises(MetricError, match="no reference file given"):
        score_files(HYP, [], ["bleu"], "text")


def test_missing_file() -> None:
    with pytest.raises(MetricError, match=r"cannot read .*nope\.txt"):
        score_files(FIX / "nope.txt", [REF], ["bleu"], "text")


def test_cli_score_takes_the_scoring_normalization(tmp_path: Path, capsys) -> None:
    from harness.cli import main

    ref = tmp_path / "ref.vi"
    hyp = tmp_path / "hyp.vi"
    ref.write_text("hòa bình và khỏe mạnh\nthủy thủ của ủy ban\n", encoding="utf-8")
    hyp.write_text("hoà bình và khoẻ mạnh\nthuỷ thủ của uỷ ban\n", encoding="utf-8")
    assert (
        main(
            ["score", "--hyp", str(hyp), "--ref", str(ref), "--metrics", "bleu", "--format", "text"]
        )
        == 0
    )
    raw = capsys.readouterr().out
    assert "version:2.6.0 = " in raw and "= 100.0" not in raw  # tone style alone costs points
    assert (
        main(
            [
                "score",
                "--hyp",
                str(hyp),
                "--ref",
                str(ref),
                "--metrics",
                "bleu",
                "--format",
                "text",
                "--tone-marks",
                "hòa",
            ]
        )
        == 0
    )
    assert "version:2.6.0|textnorm:nfc+tone:hòa = 100.0" in capsys.readouterr().out

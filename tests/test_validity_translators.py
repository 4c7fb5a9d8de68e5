"""Every backend reports, per segment, an output cut at max_new_tokens and a source cut to the
model's input limit; a run puts both (and the text checks) into results.json and segments.jsonl,
the same whether the translations come from the model or from the cache."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from harness.cli import main
from harness.devtools.tiny_train import training_pairs
from harness.translators import CT2ModelConfig, HFModelConfig, build_translator
from harness.validity.checks import FLAGS, segment_flags

TRAINED = Path(__file__).parent / "fixtures" / "models" / "tiny-marian-en-vi-trained"
PAIRS = training_pairs()[:6]
# Outside the training set (the first two from NTREX-128): the trained fixture runs these into
# loops, as the issue saw.
LONG = [
    'A Welsh Conservative said his group was "open minded" about the name change, but noted it '
    "was a short verbal hop from MWP to Muppet.",
    "Macedonians go to polls in referendum on changing country's name",
    "The committee approved the new budget for public schools on Tuesday morning.",
]
SOURCES = [s for s, _ in PAIRS] + LONG + [""]


def _configs(max_new_tokens: int) -> list:
    common = {"model": str(TRAINED), "batch_size": 4, "max_new_tokens": max_new_tokens}
    return [
        HFModelConfig(**common),
        HFModelConfig(**common, num_beams=3),
        CT2ModelConfig(backend="ctranslate2", compute_type="float32", **common),
    ]


@pytest.mark.parametrize("index", [0, 1, 2], ids=["hf-greedy", "hf-beam3", "ct2"])
def test_each_seq2seq_backend_reports_outputs_cut_at_max_new_tokens(index, tmp_path) -> None:
    short = build_translator(_configs(8)[index], cache_dir=tmp_path, progress=False)
    cut = short.translate(SOURCES)
    full = build_translator(_configs(96)[index], cache_dir=tmp_path, progress=False)
    whole = full.translate(SOURCES)
    truncated = ["truncated" in f for f in short.last_flags]
    # Independent of how the backend decides: an output the limit cut short is different
    # (shorter) from the same decoding with room to spare; one that ended is the same.
    assert truncated == [c != w for c, w in zip(cut, whole, strict=True)]
    assert any(truncated) and not all(truncated)
    assert short.last_stats.truncated_outputs == sum(truncated)
    assert short.last_flags[-1] == ()  # the blank source is answered without the model
    # At 96 tokens the training sentences end; only loops can still run into the limit.
    assert not any("truncated" in f for f in full.last_flags[: len(PAIRS)])


def test_hf_and_ct2_agree_on_which_outputs_were_cut(tmp_path) -> None:
    hf, _, ct2 = (build_translator(c, cache_dir=tmp_path, progress=False) for c in _configs(10))
    hf.translate(SOURCES)
    ct2.translate(SOURCES)
    assert hf.last_flags == ct2.last_flags


def test_causal_lm_reports_outputs_cut_at_max_new_tokens(tiny_family, tmp_path) -> None:
    import torch

    cfg = HFModelConfig(model=str(tiny_family("llama-chat")), batch_size=3, max_new_tokens=5)
    tr = build_translator(cfg, cache_dir=tmp_path, progress=False)
    sources = ["Hello.", "Information society.", "Mid length sentence here.", "Digital life."]
    tr.translate(sources)
    stop = set(tr.generation["eos_token_id"])
    expected = []
    for source in sources:  # one at a time, no padding, straight through generate()
        ids = tr.tokenizer(tr.prompt(source), add_special_tokens=False, return_tensors="pt")
        with torch.inference_mode():
            out = tr.model.generate(**ids)
        expected.append(not stop & set(out[0, ids["input_ids"].shape[1] :].tolist()))
    assert ["truncated" in f for f in tr.last_flags] == expected


def test_sources_over_the_input_limit_are_flagged(tmp_path) -> None:
    model = tmp_path / "short-input"
    shutil.copytree(TRAINED, model)
    tok_cfg = json.loads((model / "tokenizer_config.json").read_text("utf-8"))
    (model / "tokenizer_config.json").write_text(
        json.dumps({**tok_cfg, "model_max_length": 12}), "utf-8"
    )
    for cfg in _configs(32):
        tr = build_translator(cfg.model_copy(update={"model": str(model)}), cache_dir=tmp_path)
        tr.translate(SOURCES)
        cut = [i for i, f in enumerate(tr.last_flags) if "source_truncated" in f]
        tokens = [len(tr.tokenizer(s)["input_ids"]) for s in SOURCES]
        assert cut == [i for i, n in enumerate(tokens) if n > 12]
        assert cut and tr.last_stats.truncated_sources == len(cut)


def _run_config(tmp_path: Path) -> Path:
    (tmp_path / "src.en").write_text("\n".join(s for s in SOURCES if s) + "\n", "utf-8")
    refs = [t for _, t in PAIRS] + ["Một câu tham chiếu bằng tiếng Việt."] * len(LONG)
    (tmp_path / "ref.vi").write_text("\n".join(refs) + "\n", "utf-8")
    config = {
        "name": "validity",
        "datasets": [
            {"kind": "files", "name": "mixed", "source": "src.en", "references": ["ref.vi"]}
        ],
        "models": [
            {"name": "hf", "model": str(TRAINED), "batch_size": 4, "max_new_tokens": 32},
            {
                "name": "ct2",
                "model": str(TRAINED),
                "backend": "ctranslate2",
                "compute_type": "float32",
                "max_new_tokens": 32,
            },
        ],
        "metrics": ["bleu", "chrf"],
        "statistics": {"bootstrap_resamples": 0},
        "output_dir": str(tmp_path / "runs"),
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), "utf-8")
    return path


def _leaf(tmp_path: Path, model: str) -> tuple[dict, list[dict]]:
    leaf = tmp_path / "runs" / "validity" / model / "mixed"
    rows = [json.loads(line) for line in (leaf / "segments.jsonl").read_text("utf-8").splitlines()]
    return json.loads((leaf / "results.json").read_text("utf-8")), rows


def test_a_run_counts_every_flag_and_a_cached_rerun_counts_the_same(tmp_path, capsys) -> None:
    config = _run_config(tmp_path)
    assert main(["run", str(config), "-q"]) == 0
    sources = [s for s in SOURCES if s]
    # What the flags must be, from a translator built here with the run's settings.
    tr = build_translator(_configs(32)[0], cache_dir=tmp_path, progress=False)
    hyps = tr.translate(sources)
    expected = [
        segment_flags(s, h, f) for s, h, f in zip(sources, hyps, tr.last_flags, strict=True)
    ]
    results, rows = _leaf(tmp_path, "hf")
    validity = results["validity"]
    assert [tuple(r["flags"]) for r in rows] == expected
    for flag in FLAGS:
        ids = [r["id"] for r in rows if flag in r["flags"]]
        assert validity["segments"][flag] == ids
        assert validity["counts"][flag] == len(ids)
    assert validity["counts"]["truncated"] > 0 and validity["counts"]["repetition"] > 0
    # The training sentences come out right and carry no flag.
    assert all(r["flags"] == [] for r in rows[: len(PAIRS)])
    assert results["model"]["throughput"]["truncated_outputs"] == validity["counts"]["truncated"]
    # Rerun from the cache: the translator's flags come back from it.
    capsys.readouterr()
    assert main(["run", str(config)]) == 0
    again, again_rows = _leaf(tmp_path, "hf")
    assert again["timing"]["cached_segments"] == len(sources)
    assert again["validity"] == validity and again_rows == rows
    counts = validity["counts"]
    line = next(x for x in capsys.readouterr().err.splitlines() if "hf on mixed: " in x)
    assert line.startswith("WARNING: hf on mixed: ")
    assert (
        f"{counts['repetition']} repetition" in line and f"{counts['truncated']} truncated" in line
    )
    ct2_results, _ = _leaf(tmp_path, "ct2")
    assert ct2_results["validity"]["segments"]["truncated"] == validity["segments"]["truncated"]


def test_score_with_src_reports_the_text_checks(tmp_path, capsys) -> None:
    src = ["The committee approved the new budget.", "Hello, how are you?", "2021", "Good night."]
    hyp = ["The committee approved the new budget.", "", "2021", "Le comité dort bien ce soir."]
    ref = [
        "Ủy ban đã thông qua ngân sách mới.",
        "Xin chào, bạn có khỏe không?",
        "2021",
        "Chúc ngủ ngon.",
    ]
    for name, lines in (("s.en", src), ("h.vi", hyp), ("r.vi", ref)):
        (tmp_path / name).write_text("\n".join(lines) + "\n", "utf-8")
    argv = ["score", "--hyp", str(tmp_path / "h.vi"), "--ref", str(tmp_path / "r.vi")]
    assert main([*argv, "--src", str(tmp_path / "s.en")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [s["name"] for s in out["scores"]] == ["BLEU", "chrF2", "TER"]
    assert out["validity"] == {
        "empty": 1,
        "untranslated": 1,
        "off_target": 1,
        "repetition": 0,
        "chatter": 0,
        "length_ratio": 0,
    }
    assert out["validity_segments"]["off_target"] == [4]
    assert main(argv) == 0  # without --src: sacrebleu's list, no validity
    assert isinstance(json.loads(capsys.readouterr().out), list)
    (tmp_path / "s.en").write_text("one line\n", "utf-8")
    assert main([*argv, "--src", str(tmp_path / "s.en")]) == 2
    assert "needs its source line" in capsys.readouterr().err

"""Family presets on tiny random models of each architecture, through the real load path.

For each family the test checks the exact token ids handed to ``model.generate`` (spelled out
from the family's documented input format, not taken from the code under test), the first
generated tokens the preset forces, and that outputs are the post-processed decode of the new
tokens. ``generate`` is wrapped to record its arguments; the real one still runs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness.errors import TranslatorError
from harness.translators import CT2ModelConfig, HFModelConfig, build_translator
from harness.translators.hf_causal import first_line
from harness.translators.presets import Preset

FIXTURES = Path(__file__).parent / "fixtures" / "translators"
SOURCES = ["Hello world.", "Good."]


@pytest.fixture(scope="session")
def tiny_model(tiny_family: Callable[[str], Path]) -> Callable[[str], Path]:
    return tiny_family


class Recorder:
    """Wraps ``model.generate``: keeps each call's kwargs and output, returns the real output."""

    def __init__(self, translator: Any) -> None:
        self.calls: list[tuple[dict[str, Any], Any]] = []
        real = translator.model.generate

        def generate(**kwargs: Any) -> Any:
            out = real(**kwargs)
            self.calls.append((kwargs, out))
            return out

        translator.model.generate = generate


def _build(path: Path, **kw: Any) -> Any:
    kw.setdefault("max_new_tokens", 8)
    return build_translator(
        HFModelConfig(model=str(path), batch_size=4, **kw), cache_dir=path.parent, progress=False
    )


def _ids(tok: Any, text: str) -> list[int]:
    """Ids of ``text``'s pieces without any special tokens: the family-neutral part."""
    return tok.convert_tokens_to_ids(tok.tokenize(text))


def _run(tr: Any, sources: list[str] = SOURCES) -> tuple[list[str], dict[str, Any], Any]:
    rec = Recorder(tr)
    hyps = tr.translate(sources)
    assert len(rec.calls) == 1
    kwargs, out = rec.calls[0]
    return hyps, kwargs, out


def _rows(kwargs: dict[str, Any]) -> list[list[int]]:
    """Input rows with padding removed (by the attention mask)."""
    ids, mask = kwargs["input_ids"].tolist(), kwargs["attention_mask"].tolist()
    return [[t for t, m in zip(r, mk, strict=True) if m] for r, mk in zip(ids, mask, strict=True)]


# (family, expected preset, framing of the source ids: [before], [after])
ENCODER_DECODER = [
    ("marian", "marian", [], ["</s>"]),
    ("marian-multi", "marian", [">>vie<<"], ["</s>"]),
    ("nllb", "nllb", ["eng_Latn"], ["</s>"]),
    ("m2m100", "m2m100", ["__en__"], ["</s>"]),
    ("mbart50", "mbart50", ["en_XX"], ["</s>"]),
    ("vinai-translate-en2vi", "vinai", ["en_XX"], ["</s>"]),
    ("madlad", "madlad", ["<2vi>"], ["</s>"]),
]


@pytest.mark.parametrize(("family", "preset", "before", "after"), ENCODER_DECODER)
def test_encoder_decoder_inputs(tiny_model, family, preset, before, after) -> None:
    tr = _build(tiny_model(family))
    tok = tr.tokenizer
    assert tr.preset.name == preset and tr.preset.chosen_by.startswith("auto")
    hyps, kwargs, out = _run(tr)
    # Longest source first: "Hello world." is row 0.
    for row, source in zip(_rows(kwargs), SOURCES, strict=True):
        expected = tok.convert_tokens_to_ids(before) + _ids(tok, source)
        assert row == expected + tok.convert_tokens_to_ids(after)
    decoded = tok.batch_decode(tr._new_tokens(out, 0), skip_special_tokens=True)
    assert hyps == [tr.preset.postprocess(t) for t in decoded]


@pytest.mark.parametrize(
    ("family", "start", "forced"),
    [
        ("nllb", "</s>", "vie_Latn"),
        ("m2m100", "</s>", "__vi__"),
        ("mbart50", "</s>", "vi_VN"),
        ("vinai-translate-en2vi", "vi_VN", None),
    ],
)
def test_target_language_token_leads_the_output(tiny_model, family, start, forced) -> None:
    tr = _build(tiny_model(family))
    hyps, _, out = _run(tr)
    tok = tr.tokenizer
    assert out[:, 0].tolist() == [tok.convert_tokens_to_ids(start)] * len(SOURCES)
    if forced is not None:
        assert out[:, 1].tolist() == [tok.convert_tokens_to_ids(forced)] * len(SOURCES)
        assert all(forced not in h for h in hyps)


def test_t5_prefix_and_tag_stripping(tiny_model) -> None:
    tr = _build(tiny_model("t5"))
    assert tr.preset.name == "t5"
    _, kwargs, _ = _run(tr)
    tok = tr.tokenizer
    assert _rows(kwargs)[0] == [*_ids(tok, "en: Hello world."), tok.eos_token_id]
    for raw, clean in [
        ("vi: Xin chào", "Xin chào"),
        ("vi:Xin chào", "Xin chào"),
        ("vi Xin chào", "Xin chào"),
        ("vi Đà Nẵng", "Đà Nẵng"),
        ("vi phạm luật giao thông là sai.", "vi phạm luật giao thông là sai."),
        ("vi khuẩn gây bệnh", "vi khuẩn gây bệnh"),
        ("vi: vi rút corona", "vi rút corona"),
        ("  vi : Xin chào ", "Xin chào"),
        ("Việt Nam vi: x", "Việt Nam vi: x"),
        ("Vi phạm", "Vi phạm"),
    ]:
        assert tr.preset.postprocess(raw) == clean


def test_nllb_ignores_the_checkpoints_max_length_of_200(tiny_model) -> None:
    tr = _build(tiny_model("nllb"), max_new_tokens=205)
    assert tr.model.generation_config.max_length is None
    tr.model.generation_config.bad_words_ids = [[tr.tokenizer.eos_token_id]]  # never stop early
    _, _, out = _run(tr, ["Hi."])
    assert out.shape[1] == 1 + 205


def test_language_overrides(tiny_model) -> None:
    tr = _build(tiny_model("nllb"), tgt_lang="fra_Latn", src_lang="deu_Latn")
    _, kwargs, out = _run(tr, ["Hi."])
    assert kwargs["input_ids"][0, 0] == tr.tokenizer.convert_tokens_to_ids("deu_Latn")
    assert out[0, 1] == tr.tokenizer.convert_tokens_to_ids("fra_Latn")
    prov = tr.provenance()
    assert prov["preset"]["tgt_lang"] == "fra_Latn"
    assert prov["generation"]["forced_bos_token_id"] == int(out[0, 1])


def test_marian_without_vietnamese_code_is_refused(tiny_model) -> None:
    with pytest.raises(TranslatorError, match=r"no Vietnamese one .*>>deu<<"):
        _build(tiny_model("marian-nocode"))


def test_wrong_explicit_preset_names_the_missing_token(tiny_model) -> None:
    with pytest.raises(TranslatorError, match="'vie_Latn' is not in the tokenizer"):
        _build(tiny_model("marian"), preset="nllb")


def test_source_prefix_override(tiny_model) -> None:
    tr = _build(tiny_model("t5"), source_prefix="translate English to Vietnamese: ")
    _, kwargs, _ = _run(tr, ["Hi."])
    expected = _ids(tr.tokenizer, "translate English to Vietnamese: Hi.")
    assert _rows(kwargs)[0] == [*expected, tr.tokenizer.eos_token_id]


# --- decoder-only LLMs -------------------------------------------------------------------


def _chat_ids(tok: Any, turns: list[dict[str, str]]) -> list[int]:
    text = "".join(f"<|im_start|>{t['role']}\n{t['content']}<|im_end|>\n" for t in turns)
    return tok(text + "<|im_start|>assistant\n", add_special_tokens=False)["input_ids"]


def test_causal_prompt_padding_and_new_text_only(tiny_model) -> None:
    tr = _build(tiny_model("llama-chat"), max_new_tokens=6)
    tok = tr.tokenizer
    assert tr.preset.name == "causal-lm"
    hyps, kwargs, out = _run(tr)
    instruction = tr.cfg.prompt.instruction
    ids, mask = kwargs["input_ids"].tolist(), kwargs["attention_mask"].tolist()
    for row, row_mask, source in zip(ids, mask, SOURCES, strict=True):
        expected = _chat_ids(tok, [{"role": "user", "content": f"{instruction}\n\n{source}"}])
        pad = len(row) - len(expected)
        assert row == [tok.pad_token_id] * pad + expected  # left padding
        assert row_mask == [0] * pad + [1] * len(expected)
    width = kwargs["input_ids"].shape[1]
    assert hyps == [h.strip() for h in tok.batch_decode(out[:, width:], skip_special_tokens=True)]
    gen = tr.model.generation_config
    assert tok.convert_tokens_to_ids("<|im_end|>") in gen.eos_token_id
    # The checkpoint asks for sampling; evaluation must be deterministic.
    assert gen.do_sample is False and gen.temperature is None
    assert tr.translate(SOURCES) == hyps


def test_causal_few_shot_turns_and_overlap_refusal(tiny_model) -> None:
    few_shot = {
        "dataset": {
            "kind": "files",
            "source": str(FIXTURES / "fewshot.en"),
            "references": [str(FIXTURES / "fewshot.vi")],
        },
        "n": 2,
    }
    tr = _build(
        tiny_model("llama-chat"),
        max_new_tokens=4,
        prompt={"few_shot": few_shot, "system_prompt": "You translate.", "first_line_only": True},
    )
    turns = tr.messages("Hi.")
    assert [t["role"] for t in turns] == [
        "system",
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
    ]
    assert (
        turns[2]["content"] == "Chào buổi sáng." and turns[4]["content"] == "Cảm ơn bạn rất nhiều."
    )
    assert turns[-1]["content"].endswith("\n\nHi.")
    _, kwargs, _ = _run(tr, ["Hi."])
    assert kwargs["input_ids"][0].tolist() == _chat_ids(tr.tokenizer, turns)
    prov = tr.provenance()["prompt"]
    assert prov["few_shot"]["n"] == 2 and prov["first_line_only"] is True
    # An example source that is also a test source (up to spacing) leaks its reference.
    with pytest.raises(TranslatorError, match=r"few_shot: example 1 .*test segment 1"):
        tr.translate(["Hi.", "Thank  you very much."])
    with pytest.raises(TranslatorError, match="example 0"):
        build_translator(
            HFModelConfig(model=str(tiny_model("llama-chat")), prompt={"few_shot": few_shot}),
            cache_dir=FIXTURES,
            test_sources=["Good morning."],
            config_key="models[0]",
        )


def test_first_line() -> None:
    assert first_line("\n Xin chào.\nNote: this is a translation.") == "Xin chào."
    assert first_line("") == ""


def test_ctranslate2_refuses_decoder_only(tiny_model) -> None:
    cfg = CT2ModelConfig(backend="ctranslate2", model=str(tiny_model("llama-chat")))
    with pytest.raises(TranslatorError, match="cannot run preset 'causal-lm'"):
        build_translator(cfg, cache_dir=tiny_model("llama-chat").parent, progress=False)


def test_preset_json_round_trip() -> None:
    p = Preset(name="t5", chosen_by="config", source_prefix="en: ")
    assert p.to_json()["source_prefix"] == "en: " and p.prepare("x") == "en: x"


def test_causal_first_line_only_keeps_the_first_line(tiny_model) -> None:
    path = tiny_model("llama-chat")
    plain = _build(path, max_new_tokens=6)
    cut = _build(path, max_new_tokens=6, prompt={"first_line_only": True})
    tok = plain.tokenizer
    word, newline = tok.convert_tokens_to_ids("H"), tok.convert_tokens_to_ids("\n")
    # Bias the real model into "H\nH\nH": H everywhere, a newline right after each H.
    for tr in (plain, cut):
        tr.model.generation_config.sequence_bias = {(word,): 100.0, (word, newline): 300.0}
    full = plain.translate(["Hi."])[0]
    assert full.splitlines() == ["H", "H", "H"]
    assert cut.translate(["Hi."]) == ["H"]

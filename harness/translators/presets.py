"""Model-family presets: what each family needs to translate English into Vietnamese.

Getting these details wrong costs 5 to 40 BLEU without any error: NLLB without a forced
``vie_Latn`` writes English, envit5 without ``"en: "`` guesses the direction and leaves a
``vi:`` tag in the output. A preset is chosen from the model's config and vocabulary (or named
in the config) and resolved into a :class:`Preset` that every backend applies the same way.
"""

from __future__ import annotations

import re
from collections.abc import Container
from dataclasses import asdict, dataclass
from typing import Any

from harness.errors import TranslatorError

# envit5 answers "vi: <translation>" (sometimes "vi <translation>"): strip that tag only. A bare
# "vi " counts as the tag only before a capital, digit or punctuation: "vi" is also a syllable
# (vi phạm, vi khuẩn, vi rút) and such an output must keep it.
_CAPITALS = "".join(c for c in map(chr, range(0x41, 0x1F00)) if c.isupper())
_T5_VI_TAG = re.compile(rf"^\s*vi(?:\s*:\s*|\s+(?=[{re.escape(_CAPITALS)}\d\W]))")
# Output clean-ups by name (the name is what provenance records).
_STRIPPERS = {"leading 'vi:' or 'vi ' tag": _T5_VI_TAG}

_MARIAN_VI_CODES = (">>vie<<", ">>vi<<")


@dataclass(frozen=True)
class Preset:
    """A resolved preset: how sources are prepared and outputs cleaned for one model.

    Token fields hold token *strings* (e.g. ``"vie_Latn"``); each backend maps them to ids.
    """

    name: str
    chosen_by: str  # "config" or "auto: <evidence>"
    source_prefix: str = ""
    src_lang: str | None = None  # set as ``tokenizer.src_lang``
    tgt_lang: str | None = None
    forced_bos_token: str | None = None  # first generated token (CT2: target prefix)
    decoder_start_token: str | None = None  # replaces the model's decoder start token
    strip_output: str | None = None  # a clean-up from _STRIPPERS, applied to each output
    causal: bool = False

    def prepare(self, source: str) -> str:
        return self.source_prefix + source

    def postprocess(self, text: str) -> str:
        if self.strip_output:
            text = _STRIPPERS[self.strip_output].sub("", text, count=1)
        return text.strip()

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def detect_family(
    model_type: str, is_encoder_decoder: bool, vocab: Container[str], model_id: str
) -> tuple[str, str]:
    """Return (preset name, evidence) for a model; raise when nothing fits."""
    if model_type == "marian":
        return "marian", "model_type marian"
    if model_type in ("m2m_100", "nllb_moe", "nllb-moe"):
        if "vie_Latn" in vocab:
            return "nllb", f"model_type {model_type} with vie_Latn in the vocabulary"
        if "__vi__" in vocab:
            return "m2m100", f"model_type {model_type} with __vi__ in the vocabulary"
    if model_type == "mbart" and "vi_VN" in vocab:
        # VinAI's en2vi models start decoding with vi_VN itself; mBART-50 forces it after </s>.
        if "vinai" in model_id.lower():
            return "vinai", "model_type mbart, model id names vinai"
        return "mbart50", "model_type mbart with vi_VN in the vocabulary"
    if model_type in ("t5", "mt5", "umt5"):
        if "<2vi>" in vocab:
            return "madlad", f"model_type {model_type} with <2vi> in the vocabulary"
        return "t5", f"model_type {model_type}"
    if not is_encoder_decoder:
        return "causal-lm", f"decoder-only model_type {model_type}"
    raise TranslatorError(
        f"no preset fits model {model_id!r} (model_type {model_type!r}); set preset: to one of "
        "marian, nllb, m2m100, mbart50, vinai, t5, madlad, causal-lm"
    )


def _need(vocab: Container[str], token: str, model_id: str, what: str) -> str:
    if token not in vocab:
        raise TranslatorError(
            f"model {model_id!r}: {what} token {token!r} is not in the tokenizer's vocabulary"
        )
    return token


def _marian(vocab: Container[str], tgt: str | None, model_id: str, codes: list[str]) -> dict:
    if tgt is None and not codes:
        return {}  # single-target OPUS-MT model: plain input
    if tgt is not None and not tgt.startswith(">>"):
        tgt = f">>{tgt}<<"  # tgt_lang: vie means the >>vie<< token
    if tgt is None:
        tgt = next((c for c in _MARIAN_VI_CODES if c in vocab), None)
        if tgt is None:
            raise TranslatorError(
                f"model {model_id!r} needs a target-language token but has no Vietnamese one "
                f"(has {', '.join(sorted(codes)[:8])}...); set tgt_lang:"
            )
    _need(vocab, tgt, model_id, "target-language")
    return {"source_prefix": f"{tgt} ", "tgt_lang": tgt}


def resolve_preset(
    cfg: Any, *, model_type: str, is_encoder_decoder: bool, vocab: Container[str], model_id: str
) -> Preset:
    """Resolve ``cfg.preset`` (or detect it) against the model's vocabulary.

    ``cfg`` is a model config (``preset``, ``src_lang``, ``tgt_lang``, ``source_prefix``).
    ``vocab`` must contain every token string the tokenizer knows, language codes included.
    """
    if cfg.preset == "auto":
        name, evidence = detect_family(model_type, is_encoder_decoder, vocab, model_id)
        chosen_by = f"auto: {evidence}"
    else:
        name, chosen_by = cfg.preset, "config"
    src, tgt = cfg.src_lang, cfg.tgt_lang
    fields: dict[str, Any]
    if name == "marian":
        codes = [t for t in _iter_marian_codes(vocab)]
        fields = _marian(vocab, tgt, model_id, codes)
    elif name == "nllb":
        tgt = _need(vocab, tgt or "vie_Latn", model_id, "target-language")
        src = _need(vocab, src or "eng_Latn", model_id, "source-language")
        fields = {"src_lang": src, "tgt_lang": tgt, "forced_bos_token": tgt}
    elif name == "m2m100":
        tgt, src = tgt or "vi", src or "en"
        bos = _need(vocab, f"__{tgt}__", model_id, "target-language")
        fields = {"src_lang": src, "tgt_lang": tgt, "forced_bos_token": bos}
    elif name in ("mbart50", "vinai"):
        tgt = _need(vocab, tgt or "vi_VN", model_id, "target-language")
        src = _need(vocab, src or "en_XX", model_id, "source-language")
        key = "forced_bos_token" if name == "mbart50" else "decoder_start_token"
        fields = {"src_lang": src, "tgt_lang": tgt, key: tgt}
    elif name == "t5":
        fields = {"source_prefix": f"{src or 'en'}: ", "strip_output": "leading 'vi:' or 'vi ' tag"}
    elif name == "madlad":
        tag = _need(vocab, f"<2{tgt or 'vi'}>", model_id, "target-language")
        fields = {"source_prefix": f"{tag} ", "tgt_lang": tgt or "vi"}
    else:  # causal-lm: prompts are built by the causal translator from cfg.prompt
        fields = {"causal": True}
    if cfg.source_prefix is not None:
        fields["source_prefix"] = cfg.source_prefix
    return Preset(name=name, chosen_by=chosen_by, **fields)


def _iter_marian_codes(vocab: Container[str]) -> list[str]:
    # Only real dicts can be listed; a bare container can still answer membership tests.
    keys = vocab.keys() if hasattr(vocab, "keys") else ()
    return [t for t in keys if t.startswith(">>") and t.endswith("<<")]

"""Decoder-only LLMs (Qwen, Llama, Gemma, SeaLLM, ...) prompted through their chat template."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from harness.errors import TranslatorError
from harness.translators.base import BuildOptions
from harness.translators.batching import BatchResult
from harness.translators.config import HFModelConfig
from harness.translators.fewshot import (
    chat_messages,
    check_no_overlap,
    first_line,
    load_few_shot,
)
from harness.translators.hf_seq2seq import HFSeq2SeqTranslator, generation_settings
from harness.translators.loading import ModelParts
from harness.translators.runtime import EncodedSources

# End-of-turn markers of common chat formats (ChatML, Llama 3, Gemma, Phi); generation stops at
# whichever of these the tokenizer has, as well as at the model's own EOS ids.
END_OF_TURN = ("<|im_end|>", "<|eot_id|>", "<end_of_turn>", "<|end|>", "<|endoftext|>")


class HFCausalTranslator(HFSeq2SeqTranslator):
    """``AutoModelForCausalLM`` + chat template, left padding, only the new text returned."""

    auto_class = "AutoModelForCausalLM"
    pad_left = True

    def __init__(self, cfg: HFModelConfig, parts: ModelParts, options: BuildOptions) -> None:
        # "models[0]" when the runner built it (config_key names the model entry, and the
        # source's key is "models[0].model"); the model id otherwise.
        where = options.config_key or cfg.model
        if not getattr(parts.tokenizer, "chat_template", None):
            raise TranslatorError(
                f"{where}: tokenizer of {cfg.model!r} has no chat template; use an instruction-"
                "tuned (chat) checkpoint"
            )
        self.prompt_cfg = cfg.prompt
        self.few_shot, self.few_shot_info = [], None
        # Few-shot data is checked before the weights load, so a leak fails in seconds.
        if cfg.prompt.few_shot is not None:
            self.few_shot, self.few_shot_info = load_few_shot(
                cfg.prompt.few_shot, base_dir=options.base_dir, where=where
            )
            check_no_overlap(self.few_shot, options.test_sources, where)
        super().__init__(cfg, parts, options)

    def _pad_id(self) -> int:
        tok = self.tokenizer
        if tok.pad_token_id is not None:
            return int(tok.pad_token_id)
        return self._stop_ids()[0]

    def _stop_ids(self) -> list[int]:
        ids: list[int] = []
        model_eos = self.model.generation_config.eos_token_id
        for value in (model_eos, self.tokenizer.eos_token_id):
            ids += value if isinstance(value, list) else [value] if value is not None else []
        vocab = self.tokenizer.get_vocab()
        ids += [vocab[t] for t in END_OF_TURN if t in vocab]
        if not ids:
            raise TranslatorError(f"{self.cfg.model!r}: no end-of-sequence token to stop at")
        return list(dict.fromkeys(int(i) for i in ids))

    def _generation_settings(self, parts: ModelParts) -> dict[str, Any]:
        settings = generation_settings(self.cfg, parts)
        settings["eos_token_id"] = self._stop_ids()
        settings["pad_token_id"] = self._pad_id()
        return settings

    def messages(self, source: str) -> list[dict[str, str]]:
        """Chat turns for one source: optional system turn, few-shot pairs, then the source."""
        return chat_messages(self.prompt_cfg, self.few_shot, source)

    def prompt(self, source: str) -> str:
        """The exact prompt text the model sees for ``source``."""
        try:
            return self.tokenizer.apply_chat_template(
                self.messages(source), add_generation_prompt=True, tokenize=False
            )
        except Exception as e:  # jinja raises TemplateError for e.g. an unsupported system turn
            raise TranslatorError(f"{self.source.config_key}: chat template failed: {e}") from e

    def _encode(self, sources: Sequence[str]) -> EncodedSources:
        check_no_overlap(self.few_shot, sources, self.options.config_key or self.cfg.model)
        prompts = [self.prompt(s) for s in sources]
        # The template already holds any BOS; adding special tokens again would double it.
        ids = self.tokenizer(prompts, add_special_tokens=False)["input_ids"]
        return EncodedSources(ids=[list(r) for r in ids], truncated=0, max_source_tokens=None)

    def _generated(self, out: Any, input_width: int) -> Any:
        return out[:, input_width:]  # left padding: every prompt ends at input_width

    def _new_tokens(self, out: Any, input_width: int) -> Any:
        return self._generated(out, input_width)

    def generate_rows(self, rows: Sequence[Sequence[int]]) -> BatchResult:
        result = super().generate_rows(rows)
        if not self.prompt_cfg.first_line_only:
            return result
        return BatchResult(
            [first_line(h) for h in result.hypotheses], result.output_tokens, result.truncated
        )

    def provenance(self) -> Mapping[str, Any]:
        prov = dict(super().provenance())
        prov["prompt"] = {
            "instruction": self.prompt_cfg.instruction,
            "system_prompt": self.prompt_cfg.system_prompt,
            "first_line_only": self.prompt_cfg.first_line_only,
            "few_shot": self.few_shot_info,
            "example": self.prompt("{source}"),
        }
        return prov

"""Config models for translators, one per ``backend`` (a discriminated union).

Every field that can change a translation is here, so the resolved config (saved with each run)
says exactly how its hypotheses were produced.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from harness.configbase import StrictModel

# Re-exported: these lived here before the API backend needed them without this module.
from harness.translators.prompt_config import DEFAULT_INSTRUCTION as DEFAULT_INSTRUCTION
from harness.translators.prompt_config import FewShotConfig as FewShotConfig
from harness.translators.prompt_config import PromptConfig
from harness.validity.postprocess import PostprocessConfig

PresetName = Literal[
    "auto", "marian", "nllb", "m2m100", "mbart50", "vinai", "t5", "madlad", "causal-lm"
]


def looks_like_local_path(model: str) -> bool:
    """Whether a ``model:`` value can only mean a folder: hub ids are ``name`` or
    ``namespace/name``, so anything starting like a path, with more than one ``/``, a
    backslash or a trailing slash is a path, whether it exists or not."""
    return (
        model.startswith(("/", "./", "../", "~", "."))
        or model.count("/") > 1
        or "\\" in model
        or model.endswith("/")
    )


class _ModelCommon(StrictModel):
    name: str | None = None  # label in run folders and tables; defaults to the model id
    model: str  # hub id or local folder
    revision: str | None = None
    # auto | cpu | cuda | cuda:N (mps/xpu for the hf backend); checked here so that a typo
    # fails with the other config errors, before any data or model loads.
    device: str = Field(default="auto", pattern=r"^(auto|cpu|cuda(:\d+)?|mps|xpu(:\d+)?)$")
    batch_size: int = Field(default=16, gt=0)
    # Cap on padded source tokens per batch (longest source x batch rows); None = no cap.
    max_tokens_per_batch: int | None = Field(default=None, gt=0)
    num_beams: int = Field(default=1, gt=0)
    max_new_tokens: int = Field(default=256, gt=0)
    trust_remote_code: bool = False
    preset: PresetName = "auto"
    # Language-code overrides for the preset, in the model's own scheme
    # (eng_Latn/vie_Latn for NLLB, en/vi for M2M100, en_XX/vi_VN for mBART-50, >>vie<< for Marian).
    src_lang: str | None = None
    tgt_lang: str | None = None
    source_prefix: str | None = None  # overrides the preset's input prefix ("en: ", "<2vi> ")
    prompt: PromptConfig = PromptConfig()
    # Clean-up of the raw output before scoring (for LLMs: reasoning, labels, notes).
    postprocess: PostprocessConfig = PostprocessConfig()

    @property
    def label(self) -> str:
        return self.name or self.model


class HFModelConfig(_ModelCommon):
    """A Hugging Face model run with ``transformers``."""

    backend: Literal["hf"] = "hf"
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = "auto"
    torch_compile: bool = False
    # One model spread over several GPUs by accelerate (``device_map="auto"``), for a model
    # larger than one GPU. Under torchrun with several processes on a node, each process
    # spreads its copy over its own slice of that node's GPUs (8 GPUs, 2 processes: 0-3, 4-7).
    device_map: Literal["auto"] | None = None
    # bitsandbytes weight quantization (LLMs on CUDA GPUs); it changes the outputs, so it is
    # part of the cache key like every field here.
    quantization: Literal["8bit", "4bit"] | None = None

    @model_validator(mode="after")
    def _check_placement(self) -> HFModelConfig:
        if self.device == "cpu" and self.quantization:
            raise ValueError(
                f"quantization: {self.quantization} runs bitsandbytes kernels on CUDA GPUs "
                "and device is cpu; drop quantization (on a CPU, a ctranslate2 model with "
                "compute_type: int8 is the quantized option)"
            )
        if self.device_map and self.device not in ("auto", "cuda"):
            raise ValueError(
                f"device_map: auto places the model on the GPUs itself, so device: "
                f"{self.device} cannot apply; leave device: auto (or cuda)"
            )
        if self.quantization and self.torch_compile:
            raise ValueError("torch_compile does not work with bitsandbytes quantization")
        return self


class CT2ModelConfig(_ModelCommon):
    """A Hugging Face model converted once to CTranslate2 and run with its ``Translator``."""

    backend: Literal["ctranslate2"]
    compute_type: Literal["int8", "int8_float16", "float16", "float32"] = "int8"
    # Batches translated in parallel, and threads per batch (0 = CTranslate2's choice).
    # None = auto: on CPU, one-thread workers on small machines (measured fastest on 2 cores:
    # 2 workers x 1 thread beat 1 x 2 by 1.7x at batch 32), 4-thread workers from 8 cores up.
    inter_threads: int | None = Field(default=None, gt=0)
    intra_threads: int | None = Field(default=None, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _hf_only(cls, data: Any) -> Any:
        # Said plainly, rather than as an unknown key: these exist, for the other backend.
        if isinstance(data, dict):
            if "quantization" in data:
                raise ValueError(
                    "quantization (bitsandbytes) is for backend: hf; backend: ctranslate2 "
                    "quantizes with compute_type: int8 | int8_float16"
                )
            if "device_map" in data:
                raise ValueError(
                    "device_map (one model over several GPUs) is for backend: hf; "
                    "ctranslate2 runs each model on one device"
                )
        return data

    @model_validator(mode="after")
    def _check_preset(self) -> CT2ModelConfig:
        if self.preset == "causal-lm":
            raise ValueError("backend 'ctranslate2' runs encoder-decoder models only; use 'hf'")
        return self

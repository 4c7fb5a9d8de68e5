"""Which device a model will run on, told without importing torch or ctranslate2 when there is
no GPU: the translation cache key needs the device kind and dtype, and a rerun that translates
nothing should not pay for importing torch just to learn the machine has no GPU.

The probe asks the CUDA driver (``libcuda``, through ctypes) how many devices it sees, the same
count torch and CTranslate2 get. Only when it sees one does the caller import the framework to
decide exactly (torch's bfloat16 rule, a CPU-only torch build).
"""

from __future__ import annotations

import ctypes
import functools
import importlib.util
from pathlib import Path


@functools.lru_cache(maxsize=1)
def cuda_driver_devices() -> int:
    """CUDA devices the driver sees (0 without a driver or with ``CUDA_VISIBLE_DEVICES=``)."""
    for name in ("libcuda.so.1", "libcuda.so", "libcuda.dylib", "nvcuda.dll"):
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        count = ctypes.c_int(0)
        try:
            if lib.cuInit(0) != 0 or lib.cuDeviceGetCount(ctypes.byref(count)) != 0:
                return 0
        except AttributeError:
            return 0
        return int(count.value)
    return 0


@functools.lru_cache(maxsize=1)
def torch_built_with_cuda() -> bool:
    """Whether the installed torch is a CUDA build, read from ``torch/version.py`` as text."""
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.origin:
        return False
    try:
        text = (Path(spec.origin).parent / "version.py").read_text(encoding="utf-8")
    except OSError:
        return True  # unknown: let the caller import torch and ask
    for line in text.splitlines():
        if line.startswith("cuda") and "=" in line:
            return line.split("=", 1)[1].strip() not in ("None", "")
    return True


def no_gpu_for_torch() -> bool:
    """True when torch certainly sees no CUDA GPU (so ``auto`` means CPU, float32)."""
    return not torch_built_with_cuda() or cuda_driver_devices() == 0

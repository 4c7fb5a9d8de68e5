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


@functools.lru_cache(maxsize=1)
def cpu_kind() -> str:
    """The CPU's vendor and widest vector instruction set (``GenuineIntel/avx512``): quantized
    CPU kernels (CTranslate2 int8) pick code paths by it, and their outputs can differ."""
    vendor, flags = "unknown", set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                if key.strip() == "vendor_id":
                    vendor = value.strip()
                elif key.strip() in ("flags", "Features"):
                    flags = set(value.split())
                    break
    except OSError:
        import platform

        return platform.machine() or "unknown"
    isa = next(
        (name for name in ("avx512bw", "avx2", "avx", "neon", "asimd", "sse4_1") if name in flags),
        "baseline",
    )
    return f"{vendor}/{isa}"


def no_gpu_for_torch() -> bool:
    """True when torch certainly sees no CUDA GPU (so ``auto`` means CPU, float32)."""
    return not torch_built_with_cuda() or cuda_driver_devices() == 0

"""Precision: whether this CPU does bfloat16 natively, ``auto`` (bf16 where native), the start-up note when ``bf16`` will be
slow, TF32 on a GPU."""

from __future__ import annotations

import contextlib
from pathlib import Path

import torch

# x86's AVX512-BF16 and AMX-BF16, Arm's BF16 extension, as Linux names them in /proc/cpuinfo
NATIVE_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16", "bf16"})


def cpu_flags() -> set[str]:
    """The CPU's feature flags from Linux's /proc/cpuinfo (``flags`` on x86, ``Features`` on Arm); empty elsewhere."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            name, _, value = line.partition(":")
            if name.strip() in ("flags", "Features"):
                return set(value.split())
    return set()


def cpu_has_native_bf16() -> bool:
    """True where bfloat16 runs in hardware (AVX512-BF16, AMX, Arm BF16); elsewhere oneDNN emulates it in fp32."""
    # torch's own query (private API, so looked up defensively) also covers systems without /proc/cpuinfo
    for query in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
        if getattr(torch.cpu, query, lambda: False)():
            return True
    return bool(NATIVE_BF16_FLAGS & cpu_flags())


def resolve_precision(precision: str | int, accelerator: str = "auto") -> str | int:
    """``trainer.precision`` as Lightning takes it: lenetlab's ``auto`` is ``bf16-mixed`` where the run's device
    does bfloat16 natively (a CPU with AVX512-BF16, AMX or Arm's BF16; a CUDA GPU that supports it) and ``32``
    elsewhere, where bfloat16 would be emulated, slower than fp32. Any other value is returned as it is."""
    if str(precision) != "auto":
        return precision
    if accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available():
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "32"
    return "bf16-mixed" if cpu_has_native_bf16() else "32"


def slow_bf16_note(precision: str, device_type: str) -> str | None:
    """One line for the start of a run that asks for bfloat16 on a CPU without it; None otherwise."""
    if device_type != "cpu" or "bf16" not in str(precision) or cpu_has_native_bf16():
        return None
    return (
        f"trainer.precision={precision}: this CPU has no native bfloat16 (AVX512-BF16, AMX), "
        "so it will train slower than trainer.precision=32"
    )


def tf32_on_gpu(accelerator: str) -> None:
    """TF32 tensor cores for float32 matrix products where ``trainer.accelerator`` gets a CUDA device (cuDNN's
    convolutions use them already). A setting of the process: the commands make it, before Lightning would ask."""
    if accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available():
        torch.set_float32_matmul_precision("high")

"""bfloat16 on the CPU: the detection of native support and the start-up note where it is missing; TF32 on a GPU."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from conftest import FAST
from hydra import compose, initialize_config_dir

import lenetlab.run.precision
from lenetlab import CONF_DIR
from lenetlab.run.fit import train
from lenetlab.run.precision import cpu_flags, cpu_has_native_bf16, slow_bf16_note, tf32_on_gpu

NOTE = "this CPU has no native bfloat16 (AVX512-BF16, AMX), so it will train slower than trainer.precision=32"


@pytest.mark.parametrize(("flags", "native"), [({"fpu", "avx512_bf16"}, True), ({"amx_bf16"}, True), ({"avx2"}, False)])
def test_a_cpu_listing_a_bfloat16_flag_is_detected_as_native(monkeypatch, flags, native):
    import torch

    for query in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):  # torch's own answer: no
        monkeypatch.setattr(torch.cpu, query, lambda: False, raising=False)
    monkeypatch.setattr(lenetlab.run.precision, "cpu_flags", lambda: flags)
    assert cpu_has_native_bf16() is native


X86_CPUINFO = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu vme sse2 avx2 avx512f avx512_bf16 amx_bf16 amx_tile
bugs\t\t: spectre_v1
"""
ARM_CPUINFO = """processor\t: 0
BogoMIPS\t: 2000.00
Features\t: fp asimd evtstrm aes sha2 bf16 i8mm
CPU implementer\t: 0x41
"""


@pytest.mark.parametrize(
    ("cpuinfo", "flags"),
    [
        (X86_CPUINFO, {"fpu", "vme", "sse2", "avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile"}),
        (ARM_CPUINFO, {"fp", "asimd", "evtstrm", "aes", "sha2", "bf16", "i8mm"}),
        (None, set()),  # no /proc/cpuinfo: not Linux
    ],
    ids=["x86", "arm", "none"],
)
def test_the_cpu_flags_are_the_flags_line_of_x86_and_the_features_line_of_arm(tmp_path, monkeypatch, cpuinfo, flags):
    listing = tmp_path / "cpuinfo"
    if cpuinfo is not None:
        listing.write_text(cpuinfo)
    monkeypatch.setattr(lenetlab.run.precision, "Path", lambda path: listing if path == "/proc/cpuinfo" else Path(path))
    assert cpu_flags() == flags


@pytest.mark.parametrize(
    ("precision", "device", "native", "note"),
    [
        ("bf16-mixed", "cpu", False, f"trainer.precision=bf16-mixed: {NOTE}"),
        ("bf16-true", "cpu", False, f"trainer.precision=bf16-true: {NOTE}"),
        ("bf16-mixed", "cpu", True, None),
        ("32", "cpu", False, None),
        ("bf16-mixed", "cuda", False, None),  # GPUs have their own bfloat16 units
    ],
)
def test_the_note_is_for_bf16_on_a_cpu_without_it(monkeypatch, precision, device, native, note):
    monkeypatch.setattr(lenetlab.run.precision, "cpu_has_native_bf16", lambda: native)
    assert slow_bf16_note(precision, device) == note


def test_a_bf16_run_on_a_cpu_without_it_says_so_once_at_start_up(fake_mnist, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("LENETLAB_DATA_DIR", str(fake_mnist))
    monkeypatch.setattr(lenetlab.run.precision, "cpu_has_native_bf16", lambda: False)
    overrides = [*FAST, "trainer.max_epochs=1", "++trainer.limit_train_batches=2", "trainer.precision=bf16-mixed"]
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name="train", overrides=[*overrides, f"output_dir={tmp_path / 'run'}"])
    with caplog.at_level(logging.WARNING, logger="lenetlab.train"):
        result = train(cfg)
    assert result["status"] == "finished"
    notes = [r.getMessage() for r in caplog.records if "native bfloat16" in r.getMessage()]
    assert notes == [f"trainer.precision=bf16-mixed: {NOTE}"]


@pytest.mark.parametrize(
    ("accelerator", "cuda", "tf32"),
    [("auto", True, True), ("gpu", True, True), ("cpu", True, False), ("auto", False, False)],
)
def test_the_commands_use_tf32_where_the_run_gets_a_cuda_device(monkeypatch, accelerator, cuda, tf32):
    import torch

    calls = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch, "set_float32_matmul_precision", calls.append)
    tf32_on_gpu(accelerator)
    assert calls == (["high"] if tf32 else [])

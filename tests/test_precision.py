"""bfloat16 on the CPU: the detection of native support and the start-up note where it is missing."""

from __future__ import annotations

import logging

import pytest
from conftest import FAST
from hydra import compose, initialize_config_dir

import lenetlab.precision
from lenetlab import CONF_DIR
from lenetlab.precision import NATIVE_BF16_FLAGS, cpu_flags, cpu_has_native_bf16, slow_bf16_note
from lenetlab.train import train

NOTE = "this CPU has no native bfloat16 (AVX512-BF16, AMX), so it will train slower than trainer.precision=32"


def test_a_cpu_listing_a_bfloat16_flag_is_detected_as_native():
    flags = cpu_flags()
    if not flags:
        pytest.skip("no /proc/cpuinfo flags here (not Linux)")
    if not flags & NATIVE_BF16_FLAGS:
        pytest.skip(f"this CPU lists none of {sorted(NATIVE_BF16_FLAGS)}")
    assert cpu_has_native_bf16()


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
    monkeypatch.setattr(lenetlab.precision, "cpu_has_native_bf16", lambda: native)
    assert slow_bf16_note(precision, device) == note


def test_a_bf16_run_on_a_cpu_without_it_says_so_once_at_start_up(fake_mnist, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("LENETLAB_DATA_DIR", str(fake_mnist))
    monkeypatch.setattr(lenetlab.precision, "cpu_has_native_bf16", lambda: False)
    overrides = [*FAST, "trainer.max_epochs=1", "++trainer.limit_train_batches=2", "trainer.precision=bf16-mixed"]
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name="train", overrides=[*overrides, f"output_dir={tmp_path / 'run'}"])
    with caplog.at_level(logging.WARNING, logger="lenetlab.train"):
        result = train(cfg)
    assert result["status"] == "finished"
    notes = [r.getMessage() for r in caplog.records if "native bfloat16" in r.getMessage()]
    assert notes == [f"trainer.precision=bf16-mixed: {NOTE}"]

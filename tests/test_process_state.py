"""No hidden global state: importing lenetlab sets nothing up, and fitting from Python leaves the process as found.

The process's settings (warnings silenced, SIGTERM as Ctrl-C, threads shared, TF32 on a GPU) are the commands'
(``main`` of ``lenetlab.train`` and ``lenetlab.search``), not the library's."""

import inspect
import json
import subprocess
import sys

from conftest import FAST, bare_trainer
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from lenetlab import CONF_DIR
from lenetlab.config.job_names import RESOLVER
from lenetlab.run.fit import train

CONFIG_LAYER = ("hydra", "omegaconf", "optuna", "pandas")  # and matplotlib, the report's


def process_settings() -> dict:
    """What a library leaves as it found it: warning filters, log handlers and filters, the SIGTERM handler,
    torch's threads and float32 matmul precision."""
    import logging
    import signal
    import warnings

    import torch

    loggers = [logging.root, *logging.Logger.manager.loggerDict.values()]
    return {
        "warning filters": repr(warnings.filters),
        "log handlers and filters": sorted(
            repr((logger.name, logger.handlers, logger.filters))
            for logger in loggers
            if isinstance(logger, logging.Logger) and (logger.handlers or logger.filters)
        ),
        "SIGTERM handler": repr(signal.getsignal(signal.SIGTERM)),
        "threads": torch.get_num_threads(),
        "float32 matmul precision": torch.get_float32_matmul_precision(),
    }


# run in a fresh interpreter: argv[1] is the resolver's name
IMPORTS = f"""
import json, sys
import torch

{inspect.getsource(process_settings)}

def changed(before):
    return [key for key, value in process_settings().items() if value != before[key]]

before = process_settings()
import lenetlab, lenetlab.models
core = sorted(m for m in sys.modules if m.split(".")[0] in {(*CONFIG_LAYER, "matplotlib")!r})
core_changed = changed(before)
import lightning, torchvision  # what lenetlab.data builds on (Lightning's torchmetrics imports matplotlib if installed)
before, modules = process_settings(), set(sys.modules)
import lenetlab.data
data = sorted(m for m in set(sys.modules) - modules if not m.startswith("lenetlab"))
config_layer = sorted(m for m in sys.modules if m.split(".")[0] in {CONFIG_LAYER!r})
data_changed = changed(before)
from omegaconf import OmegaConf
print(json.dumps({{"core": core, "data": data, "config_layer": config_layer,
    "resolver": OmegaConf.has_resolver(sys.argv[1]), "settings": core_changed + data_changed}}))
"""


def test_importing_lenetlab_registers_nothing_and_imports_no_config_layer():
    probe = subprocess.run([sys.executable, "-c", IMPORTS, RESOLVER], capture_output=True, text=True, timeout=120)
    assert probe.returncode == 0, probe.stderr[-3000:]
    found = json.loads(probe.stdout)
    assert found["core"] == []  # lenetlab and lenetlab.models: none of them, nor matplotlib
    assert found["data"] == []  # lenetlab.data: nothing beyond Lightning and torchvision (so no matplotlib of its own)
    assert found["config_layer"] == []  # no Hydra, OmegaConf, Optuna or pandas at all
    assert found["resolver"] is False  # ${lenetlab.job_name:} is registered by the commands' Hydra callback
    assert found["settings"] == []


def lenet_tiny(fake_mnist, out, *overrides: str):
    """The lab's configuration of a one-epoch lenet_tiny run on the synthetic data, composed as the command does."""
    overrides = [*FAST, "model=lenet_tiny", "trainer.max_epochs=1", f"data.root={fake_mnist}", *overrides]
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        return compose("train", [*overrides, f"output_dir={out}"])


def test_fitting_a_classifier_with_a_plain_trainer_leaves_the_process_as_found(fake_mnist, tmp_path):
    from lenetlab.models import Classifier

    cfg = lenet_tiny(fake_mnist, tmp_path)
    before = process_settings()
    model = Classifier(cfg.model, optimizer=cfg.optimizer)
    trainer = bare_trainer(max_epochs=1, limit_train_batches=5)
    trainer.fit(model, datamodule=instantiate(cfg.data))
    assert trainer.global_step > 0
    assert process_settings() == before


def test_train_from_python_leaves_the_process_as_found(fake_mnist, tmp_path):
    cfg = lenet_tiny(fake_mnist, tmp_path, "trainer.limit_train_batches=5")
    before = process_settings()
    result = train(cfg)
    assert result["status"] == "finished"
    assert process_settings() == before

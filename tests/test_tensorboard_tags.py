"""Metrics keep their names for the report, whichever TensorBoard tags a run was written under."""

from lightning.pytorch.loggers import TensorBoardLogger

from lenetlab.report.runs import read_events
from lenetlab.tensorboard import metric_name, tensorboard_tag
from lenetlab.tensorboard.logger import RunLogger


def write(logger, points: dict[str, list[float]], first_step: int = 0) -> None:
    for name, values in points.items():
        for step, value in enumerate(values, first_step):
            logger.log_metrics({name: value}, step=step)
    logger.experiment.flush()


def test_runs_written_under_the_old_or_the_new_tags_read_the_same(tmp_path):
    points = {"val/error": [0.5, 0.25], "train/loss": [1.0, 0.75], "test/error": [0.125]}  # exact in float32
    old, new = tmp_path / "old", tmp_path / "new"
    write(TensorBoardLogger(old, name="", version=""), points)  # what runs logged before the tags were renamed
    write(RunLogger(old.parent / "new", name="", version=""), points)
    assert read_events(old)[0] == read_events(new)[0] == {k: list(enumerate(v)) for k, v in points.items()}
    assert tensorboard_tag("val/error") == "epoch/val_error" and metric_name("epoch/val_error") == "val/error"


def test_an_old_run_resumed_under_the_new_tags_keeps_one_curve(tmp_path):
    write(TensorBoardLogger(tmp_path, name="", version=""), {"val/error": [0.5, 0.375]})
    write(RunLogger(tmp_path, name="", version=""), {"val/error": [0.25]}, first_step=2)
    assert read_events(tmp_path)[0] == {"val/error": [(0, 0.5), (1, 0.375), (2, 0.25)]}

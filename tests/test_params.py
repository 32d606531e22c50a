import pytest

from lenetlab.config.sweeps import expand_sweep
from lenetlab.params import main


def test_sweep_syntax_prints_the_filters_table(capsys):
    assert main(["model.filters=8,16,32,64,128,256"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()[2:]]
    assert rows == [
        ["8", "52,258"],
        ["16", "104,250"],
        ["32", "211,690"],
        ["64", "440,394"],
        ["128", "953,098"],
        ["256", "2,199,690"],
    ]


def test_single_configuration_prints_the_per_layer_table(capsys):
    assert main(["model=lenet_tiny"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["Layer", "Output", "shape", "Weights", "Biases", "Total"]
    assert [line.split()[-1] for line in lines[2:]] == ["160", "580", "1,970", "2,710"]
    assert lines[2].split()[:2] == ["Conv(16,3)", "16x28x28"]


@pytest.mark.parametrize(
    ("overrides", "total"), [(["model=mlp"], "238,510"), ([], "104,250"), (["experiment=recipe"], "104,250")]
)
def test_totals_of_the_other_networks(capsys, overrides, total):
    assert main(overrides) == 0
    assert capsys.readouterr().out.splitlines()[-1].split() == ["Total", total]


def test_expansion_covers_every_combination():
    varying, combos = expand_sweep(["model.filters=8,16", "model.kernel_size=3,5", "seed=1"])
    assert varying == ["model.filters", "model.kernel_size"]
    assert len(combos) == 4 and all("seed=1" in combo for combo in combos)


def test_unknown_option_is_a_short_error(capsys):
    assert main(["model=resnet"]) == 2
    assert (
        capsys.readouterr().err == "error: model=resnet: no such model; choose from lenet, lenet_tiny, mlp, strided\n"
    )


def test_a_network_too_deep_for_the_image_is_refused_in_one_line(capsys):
    assert main(["model.filters=[8,8,8,8,8]"]) == 2
    err = capsys.readouterr().err.strip()
    assert (
        err
        == "error: model.filters=[8, 8, 8, 8, 8] is not accepted: expected at most 4 conv layers (each halves the 28-pixel map)"
    )

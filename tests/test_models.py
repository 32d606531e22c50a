import pytest
import torch

from lenetlab.models import MLP, LeNet, count_parameters, parameter_table


@pytest.mark.parametrize(
    ("filters", "expected"),
    [(16, 104_250), (8, 52_258), (32, 211_690), (64, 440_394), (128, 953_098), (256, 2_199_690)],
)
def test_lenet_parameter_counts_match_the_reports(filters, expected):
    assert count_parameters(LeNet(filters)) == expected
    assert count_parameters(LeNet([filters, filters])) == expected


def test_tiny_cnn_and_mlp_match_report_003():
    tiny = LeNet([16, 4], hidden=[])
    assert [row["total"] for row in parameter_table(tiny)] == [160, 580, 1970]
    assert count_parameters(tiny) == 2710
    assert count_parameters(MLP()) == 238_510


@pytest.mark.parametrize("kernel_size", [1, 3, 5, 7])
def test_flatten_size_is_computed_for_any_depth_and_kernel(kernel_size):
    net = LeNet([8, 8, 8], kernel_size=kernel_size, hidden=[32, 16])
    assert net(torch.zeros(4, 1, 28, 28)).shape == (4, 10)


def test_parameter_table_reports_output_shapes():
    rows = parameter_table(LeNet())
    assert [row["output_shape"] for row in rows] == [(16, 28, 28), (16, 14, 14), (128,), (10,)]
    assert sum(row["total"] for row in rows) == 104_250


@pytest.mark.parametrize("kernel_size", [1, 3])
def test_a_channels_last_lenet_runs_every_layer_in_channels_last_whatever_its_kernel(kernel_size):
    """A 1x1 kernel over one channel has NCHW's strides too: its layers used to run in NCHW (slow pooling)."""
    net = LeNet(filters=16, kernel_size=kernel_size).to(memory_format=torch.channels_last)
    layouts = {}
    for name, module in net.named_children():
        module.register_forward_hook(lambda m, _, out, name=name: layouts.__setitem__(name, out.stride()))
    net(torch.randn(4, 1, 28, 28))  # a batch as the data module gives it: plain NCHW
    for name in ("0", "2", "3", "5"):  # conv, pool, conv, pool: channels innermost (stride 1)
        assert layouts[name][1] == 1, f"layer {name} ran in NCHW: strides {layouts[name]}"
    assert not LeNet(filters=16, kernel_size=kernel_size).channels_last()

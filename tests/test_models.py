import pytest
import torch

from lenetlab.models import MLP, LeNet, StridedNet, count_parameters, parameter_table


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
    """A 1x1 kernel over one channel has NCHW's strides too; each layer must still run in NHWC (fast pooling)."""
    net = LeNet(filters=16, kernel_size=kernel_size).to(memory_format=torch.channels_last)
    layouts = {}
    for name, module in net.named_children():
        module.register_forward_hook(lambda m, _, out, name=name: layouts.__setitem__(name, out.stride()))
    net(torch.randn(4, 1, 28, 28))  # a batch as the data module gives it: plain NCHW
    for name in ("0", "2", "3", "5"):  # conv, pool, conv, pool: channels innermost (stride 1)
        assert layouts[name][1] == 1, f"layer {name} ran in NCHW: strides {layouts[name]}"
    assert not LeNet(filters=16, kernel_size=kernel_size).channels_last()


def test_strided_net_is_the_speedruns_network():
    """16 filters 5x5 stride 2 (28 -> 14), 32 filters 3x3, one pooling (-> 7), FC 128, 10 classes."""
    rows = parameter_table(StridedNet())
    assert [row["output_shape"] for row in rows] == [(16, 14, 14), (32, 14, 14), (128,), (10,)]
    assert [row["total"] for row in rows] == [416, 4640, 200_832, 1290]
    assert count_parameters(StridedNet()) == 207_178


@pytest.mark.parametrize(("kernel", "stride", "size"), [(4, 2, 14), (3, 2, 14), (5, 2, 14), (3, 1, 28), (4, 4, 7)])
def test_strided_net_stem_sets_the_map_size(kernel, stride, size):
    net = StridedNet(stem_filters=8, stem_kernel=kernel, stem_stride=stride, filters=[4, 6], hidden=[])
    assert parameter_table(net)[0]["output_shape"] == (8, size, size)
    assert net(torch.zeros(3, 1, 28, 28)).shape == (3, 10)
    assert count_parameters(net) == (8 * kernel * kernel + 8) + (8 * 9 * 4 + 4) + (4 * 9 * 6 + 6) + (
        6 * (size // 2) ** 2 * 10 + 10
    )


def test_strided_net_refuses_a_stem_that_leaves_nothing():
    with pytest.raises(ValueError, match="nothing left"):
        StridedNet(stem_kernel=4, stem_stride=28)


def test_a_channels_last_strided_net_runs_in_channels_last():
    net = StridedNet().to(memory_format=torch.channels_last)
    assert net.channels_last()
    layouts = {}
    for name, module in net.named_children():
        module.register_forward_hook(lambda m, _, out, name=name: layouts.__setitem__(name, out.stride()))
    net(torch.randn(4, 1, 28, 28))
    for name in ("0", "2", "4"):  # stem, conv, pool
        assert layouts[name][1] == 1, f"layer {name} ran in NCHW: strides {layouts[name]}"

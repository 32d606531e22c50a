"""The networks of the lab reports: a configurable LeNet and the 784-300-10 MLP; the speedrun's StridedNet."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from lenetlab.output import not_accepted

MNIST_SHAPE = (1, 28, 28)  # the input shape of a network that does not state its own (``input_shape``)


def _as_list(value: int | Sequence[int]) -> list[int]:
    values = [value] if isinstance(value, int) else list(value)
    return [int(v) for v in values]


def _positive_ints(value) -> bool:
    values = [value] if isinstance(value, int | float | str) else list(value)
    return all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in values)


def _check_hidden(hidden) -> None:
    if not _positive_ints(hidden):
        raise not_accepted("hidden", hidden, "a list of positive integers (hidden layer widths)")


def _check_lenet(filters, kernel_size: int, hidden, image_size: int, dropout: float) -> None:
    """Refuse (ValueError naming the argument) what cannot make a network: a map pooled below one pixel..."""
    if isinstance(filters, str) or not _positive_ints(filters) or not _as_list(filters):
        raise not_accepted("filters", filters, "a positive integer or a list of them")
    layers = 2 if isinstance(filters, int) else len(filters)
    if image_size // 2**layers < 1:
        accepted = f"at most {image_size.bit_length() - 1} conv layers (each halves the {image_size}-pixel map)"
        raise not_accepted("filters", filters, accepted)
    smallest_map = image_size // 2 ** (layers - 1)
    k = kernel_size
    if not (isinstance(k, int) and k > 0 and k % 2 == 1 and k <= smallest_map):
        raise not_accepted("kernel_size", k, f"an odd integer from 1 to {smallest_map} (the smallest feature map)")
    _check_hidden(hidden)
    if not (isinstance(dropout, int | float) and not isinstance(dropout, bool) and 0 <= dropout < 1):
        raise not_accepted("dropout", dropout, "a number in [0, 1)")


def dense_layers(features: int, hidden, dropout: float, num_classes: int) -> list[nn.Module]:
    """The fully connected end of a network: ``hidden`` ReLU layers, dropout where it drops something, the classes."""
    layers: list[nn.Module] = []
    for width in _as_list(hidden):
        layers += [nn.Linear(features, width), nn.ReLU()]
        features = width
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    return [*layers, nn.Linear(features, num_classes)]


class ConvNet(nn.Sequential):
    """A stack of layers whose convolutions may run in channels_last: the batch is given their layout."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The layers in order; a batch in the layout of the convolution weights (channels_last or not)."""
        if self.channels_last() and not _channels_last(x):
            # copied, not x.contiguous(...): with one channel NCHW counts as channels_last already, unmarked
            x = torch.empty_like(x, memory_format=torch.channels_last).copy_(x)
        return super().forward(x)

    def channels_last(self) -> bool:
        """Whether the convolution weights were put in channels_last (``net.to(memory_format=...)``).

        A convolution takes its layout from its input or its weight; a 1x1 kernel over one input channel
        has the same strides in both layouts, so with 1x1 kernels the first layers ran in NCHW (pooling
        several times slower, copies between layouts): given the batch in channels_last, they do not.
        """
        return any(_channels_last(m.weight) for m in self if isinstance(m, nn.Conv2d))


def _channels_last(tensor: torch.Tensor) -> bool:
    """The 4-d tensor's strides are NHWC's and not NCHW's (a 1x1 kernel's, or one channel's, can be both)."""
    nchw, step = [], 1
    for size in reversed(tensor.shape):
        nchw.insert(0, step)
        step *= size
    return tensor.stride() != tuple(nchw) and tensor.is_contiguous(memory_format=torch.channels_last)


class LeNet(ConvNet):
    """Conv(k x k, same padding) -> ReLU -> MaxPool(2) per entry of ``filters``, then MLP layers.

    ``filters`` is an int (two conv layers of that width) or one width per conv layer;
    ``hidden`` lists the fully connected hidden sizes (empty: one linear layer to the classes);
    ``dropout`` > 0 zeroes that fraction of the last layer's inputs while training (no parameters).
    A bad argument is refused with a ValueError that names it.
    """

    def __init__(
        self,
        filters: int | Sequence[int] = (16, 16),
        kernel_size: int = 3,
        hidden: Sequence[int] = (128,),
        in_channels: int = 1,
        num_classes: int = 10,
        image_size: int = 28,
        dropout: float = 0.0,
    ):
        _check_lenet(filters, kernel_size, hidden, image_size, dropout)
        widths = [filters, filters] if isinstance(filters, int) else _as_list(filters)
        layers: list[nn.Module] = []
        channels, size = in_channels, image_size
        for width in widths:
            layers += [
                nn.Conv2d(channels, width, kernel_size, padding=kernel_size // 2),
                nn.ReLU(),
                nn.MaxPool2d(2),
            ]
            channels, size = width, size // 2
        layers += [nn.Flatten(), *dense_layers(channels * size * size, hidden, dropout, num_classes)]
        super().__init__(*layers)
        self.input_shape = (in_channels, image_size, image_size)


class StridedNet(ConvNet):
    """A strided stem convolution, then same-padded convolutions and one 2x2 pooling, then MLP layers.

    The stem (``stem_filters`` of ``stem_kernel`` x ``stem_kernel``, stride ``stem_stride``, padding
    ``(stem_kernel - 1) // 2``: 28 -> 14 at stride 2) does the first layer's work at a quarter of the positions
    of a same-padded one; ``filters`` lists the widths of the ``kernel_size`` convolutions after it (each with
    a ReLU), ``hidden`` the fully connected sizes, as in LeNet. The default is ``experiment=speedrun``'s network:
    16 filters 5x5 stride 2, 32 filters 3x3, pooling, 128 hidden (207,178 parameters).
    """

    def __init__(
        self,
        stem_filters: int = 16,
        stem_kernel: int = 5,
        stem_stride: int = 2,
        filters: int | Sequence[int] = (32,),
        kernel_size: int = 3,
        hidden: Sequence[int] = (128,),
        in_channels: int = 1,
        num_classes: int = 10,
        image_size: int = 28,
        dropout: float = 0.0,
    ):
        padding = (stem_kernel - 1) // 2
        size = (image_size + 2 * padding - stem_kernel) // stem_stride + 1
        if size < 2:
            raise ValueError(f"stem_kernel={stem_kernel}, stem_stride={stem_stride}: nothing left of the image")
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, stem_filters, stem_kernel, stride=stem_stride, padding=padding),
            nn.ReLU(),
        ]
        channels = stem_filters
        for width in _as_list(filters):
            layers += [nn.Conv2d(channels, width, kernel_size, padding=kernel_size // 2), nn.ReLU()]
            channels = width
        # the last ReLU after the pooling, not before: the same function (ReLU is monotonic, so it commutes with
        # the max) on a quarter of the values, forward and backward; the layers with weights keep their indices
        layers[-1:] = [
            nn.MaxPool2d(2),
            nn.ReLU(),
            nn.Flatten(),
            *dense_layers(channels * (size // 2) ** 2, hidden, dropout, num_classes),
        ]
        super().__init__(*layers)
        self.input_shape = (in_channels, image_size, image_size)


class MLP(nn.Sequential):
    """Fully connected network on the flattened image (report 003: 784-300-10, sigmoid)."""

    def __init__(
        self,
        hidden: Sequence[int] = (300,),
        activation: str = "sigmoid",
        in_channels: int = 1,
        num_classes: int = 10,
        image_size: int = 28,
    ):
        activations = {"sigmoid": nn.Sigmoid, "relu": nn.ReLU, "tanh": nn.Tanh}
        if activation not in activations:
            raise not_accepted("activation", activation, " | ".join(activations))
        _check_hidden(hidden)
        layers: list[nn.Module] = [nn.Flatten()]
        features = in_channels * image_size * image_size
        for width in _as_list(hidden):
            layers += [nn.Linear(features, width), activations[activation]()]
            features = width
        layers.append(nn.Linear(features, num_classes))
        super().__init__(*layers)
        self.input_shape = (in_channels, image_size, image_size)


def count_parameters(net: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in net.parameters() if p.requires_grad)


def parameter_table(net: nn.Module) -> list[dict]:
    """One row per layer with trainable parameters: name, output shape, weights, biases (``bias``), total.

    The output shapes are those of one image of the network's ``input_shape`` (MNIST's if it states none).
    """
    layers = [(name, m) for name, m in net.named_modules() if any(p.requires_grad for p in m.parameters(False))]
    shapes = {}
    hooks = [
        module.register_forward_hook(lambda m, _, out: shapes.__setitem__(m, tuple(getattr(out, "shape", ())[1:])))
        for _, module in layers
    ]
    training = net.training
    try:
        with torch.no_grad():
            net.eval()(torch.zeros(1, *getattr(net, "input_shape", MNIST_SHAPE)))
    finally:
        net.train(training)
        for hook in hooks:
            hook.remove()
    rows = []
    for name, module in layers:
        sizes = {key: p.numel() for key, p in module.named_parameters(recurse=False) if p.requires_grad}
        biases = sizes.get("bias", 0)
        if isinstance(module, nn.Conv2d):
            layer = f"Conv({module.out_channels},{module.kernel_size[0]})"
        elif isinstance(module, nn.Linear):
            layer = f"FC({module.in_features},{module.out_features})"
        else:
            layer = f"{type(module).__name__}({name})"
        total = sum(sizes.values())
        rows.append(
            {
                "layer": layer,
                "output_shape": shapes.get(module),
                "weights": total - biases,
                "biases": biases,
                "total": total,
            }
        )
    return rows

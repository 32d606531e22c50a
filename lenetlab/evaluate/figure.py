"""``evaluate figures=true``: the confusion matrix and the most confidently wrong images, in one figure."""

from __future__ import annotations

import torch
from matplotlib.figure import Figure
from torchmetrics.functional.classification import multiclass_confusion_matrix

WRONG_SHOWN = 16  # a 4 x 4 grid


def evaluation_figure(pixels: torch.Tensor, labels: torch.Tensor, probabilities: torch.Tensor, title: str) -> Figure:
    """Left: true digit against predicted (counts); right: the wrong answers given with the highest probability.

    ``pixels`` are the images (N x 1 x H x W, raw or normalized: only their shades are drawn).
    """
    classes = probabilities.shape[1]
    confidence, predicted = probabilities.max(dim=1)
    confusion = multiclass_confusion_matrix(predicted, labels, classes)
    fig = Figure(figsize=(11, 5.2), layout="constrained")
    left, right = fig.subfigures(1, 2, width_ratios=[1.1, 1])

    ax = left.subplots()
    ax.imshow(confusion.float().log1p().cpu().numpy(), cmap="Blues")  # numpy: matplotlib reads no tensor
    for (true, guess), count in zip(torch.cartesian_prod(torch.arange(classes), torch.arange(classes)).tolist(),
                                    confusion.flatten().tolist(), strict=True):  # fmt: skip
        if count:
            color = "white" if count > confusion.max() / 2 else "black"
            ax.text(guess, true, str(count), ha="center", va="center", fontsize="x-small", color=color)
    ax.set(xlabel="predicted digit", ylabel="true digit", xticks=range(classes), yticks=range(classes))
    ax.set_title("confusion matrix (image counts)")

    wrong = torch.nonzero(predicted != labels).flatten()
    worst = wrong[confidence[wrong].argsort(descending=True)][:WRONG_SHOWN].tolist()
    axes = right.subplots(4, 4).flatten()
    for ax, index in zip(axes, worst + [None] * (len(axes) - len(worst)), strict=True):
        ax.axis("off")
        if index is not None:
            ax.imshow(pixels[index, 0].cpu().numpy(), cmap="gray")
            ax.set_title(f"{labels[index]} read as {predicted[index]} ({confidence[index]:.2f})", fontsize="x-small")
    right.suptitle(f"most confidently wrong: {len(worst)} of {len(wrong)} errors", fontsize="medium")
    fig.suptitle(title, fontweight="bold")
    return fig

"""Random affine distortions of a whole image batch, one draw per image, on the batch's device."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def random_affine(
    x: torch.Tensor,
    generator: torch.Generator,
    rotation: float = 10.0,
    scale: float = 0.1,
    shift: float = 2.0,
) -> torch.Tensor:
    """Rotate each image of ``x`` (N x C x H x W) by up to ±``rotation`` degrees, zoom it by a factor
    in 1 ± ``scale`` and move it by up to ±``shift`` pixels along each axis, every amount drawn
    uniformly and independently per image from ``generator`` (which must live on ``x``'s device).

    One ``affine_grid`` / ``grid_sample`` over the batch (bilinear); pixels that come in from outside
    the image repeat its border, which for MNIST is the background.
    """
    n, _, height, width = x.shape
    u = torch.rand(n, 4, generator=generator, device=x.device, dtype=x.dtype).mul_(2).sub_(1)  # in [-1, 1)
    angle = u[:, 0] * math.radians(rotation)
    zoom = 1 + u[:, 1] * scale
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    # affine_grid maps output to input coordinates in [-1, 1]: one pixel is 2 / size of them
    tx, ty = u[:, 2] * (2 * shift / width), u[:, 3] * (2 * shift / height)
    theta = torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)

"""Random affine and elastic distortions of a whole image batch, one draw per image, on the batch's device."""

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
    elastic: float = 0.0,
    elastic_sigma: float = 4.0,
) -> torch.Tensor:
    """Rotate each image of ``x`` (N x C x H x W) by up to ±``rotation`` degrees, zoom it by a factor
    in 1 ± ``scale`` and move it by up to ±``shift`` pixels along each axis, every amount drawn
    uniformly and independently per image from ``generator`` (which must live on ``x``'s device).

    ``elastic`` > 0 adds an elastic distortion (Simard et al. 2003): a random displacement field per
    image, Gaussian noise smoothed over ``elastic_sigma`` pixels, scaled so that a pixel moves by
    ``elastic`` pixels (root mean square) along each axis.

    One ``affine_grid`` / ``grid_sample`` over the batch (bilinear); pixels that come in from outside
    the image repeat its border, which for MNIST is the background.
    """
    n, _, height, width = x.shape
    # the draws, eager (torch.compile cannot take a generator); the rest is one graph
    u = torch.rand(n, 4, generator=generator, device=x.device, dtype=x.dtype)
    noise = None
    if elastic > 0:
        noise = torch.randn(n * 2, 1, height, width, generator=generator, device=x.device, dtype=x.dtype)
    return distort(x, u, noise, rotation, scale, shift, elastic, elastic_sigma)


def distort(
    x: torch.Tensor,
    u: torch.Tensor,
    noise: torch.Tensor | None,
    rotation: float,
    scale: float,
    shift: float,
    elastic: float,
    elastic_sigma: float,
) -> torch.Tensor:
    """``random_affine`` given its draws: ``u`` (N x 4, uniform in [0, 1)) and, for ``elastic`` > 0, ``noise``
    (2N x 1 x H x W, standard normal)."""
    height, width = x.shape[-2:]
    u = u.mul(2).sub_(1)  # in [-1, 1)
    angle = u[:, 0] * math.radians(rotation)
    zoom = 1 + u[:, 1] * scale
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    # affine_grid maps output to input coordinates in [-1, 1]: one pixel is 2 / size of them
    tx, ty = u[:, 2] * (2 * shift / width), u[:, 3] * (2 * shift / height)
    theta = torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    if noise is not None:
        pixels = elastic_field(noise, elastic_sigma).mul_(elastic)
        grid = grid + pixels * torch.tensor([2 / width, 2 / height], device=x.device, dtype=x.dtype)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def elastic_field(noise: torch.Tensor, sigma: float) -> torch.Tensor:
    """Smooth random displacement fields (N x H x W x 2, in pixels) from white ``noise`` (2N x 1 x H x W),
    each component of unit variance."""
    radius = max(1, math.ceil(3 * sigma))
    offsets = torch.arange(-radius, radius + 1, device=noise.device, dtype=noise.dtype)
    kernel = torch.exp(-0.5 * (offsets / sigma) ** 2)
    kernel = kernel / kernel.square().sum().sqrt()  # unit L2 norm per axis: white noise keeps unit variance
    smooth = F.conv2d(noise, kernel.view(1, 1, -1, 1), padding=(radius, 0))
    smooth = F.conv2d(smooth, kernel.view(1, 1, 1, -1), padding=(0, radius))
    n2, _, height, width = noise.shape
    return smooth.view(n2 // 2, 2, height, width).permute(0, 2, 3, 1)

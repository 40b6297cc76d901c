"""Projection of images onto every data set, the sample grid, and saving both as labelled PNG grids.

Projection grid: rows = input images, first column the input, then its content rendered as each data set.
Sample grid: rows = draws z ~ N(0, T²I), columns = data sets; the same z in every column shows what each
data set adds to one content (the idea of Figure 1 of Esser, Rombach & Ommer, 2020).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from PIL import Image, ImageDraw
from torchvision.utils import make_grid

from ganalyze.atomic import write_with
from ganalyze.projection.model import ProjectionModel


@torch.no_grad()
def projection_grid(model: ProjectionModel, images: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
    """Inputs and their projections onto every data set: (rows, 1 + K, 3, R, R)."""
    k = len(model.labels)
    z = model.to_prior(images, source)
    targets = torch.arange(k).repeat(len(images))
    projected = model.render(z.repeat_interleave(k, dim=0), targets)
    return torch.cat([model.resize(images)[:, None], projected.view(len(images), k, *projected.shape[1:])], dim=1)


@torch.no_grad()
def sample_grid(model: ProjectionModel, rows: int, seed: int, temperature: float = 1.0) -> torch.Tensor:
    """The same z ~ N(0, temperature² I) rendered under every data set: (rows, K, 3, R, R)."""
    k = len(model.labels)
    z = torch.randn(rows, model.flow.dim, generator=torch.Generator().manual_seed(seed)) * temperature
    images = model.render(z.repeat_interleave(k, dim=0), torch.arange(k).repeat(rows))
    return images.view(rows, k, *images.shape[1:])


def grid_image(cells: torch.Tensor, titles: list[str], scale: int = 4) -> Image.Image:
    """A (rows, cols, 3, H, W) grid as a PIL image, upscaled ``scale``× (nearest) under a row of column titles."""
    rows, cols = cells.shape[:2]
    grid = make_grid(cells.flatten(0, 1).clamp(0, 1), nrow=cols, padding=1, pad_value=1.0)
    array = (grid.permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()
    body = Image.fromarray(array).resize((grid.shape[2] * scale, grid.shape[1] * scale), Image.NEAREST)
    header = 14
    canvas = Image.new("RGB", (body.width, body.height + header), "white")
    canvas.paste(body, (0, header))
    draw = ImageDraw.Draw(canvas)
    cell = body.width / cols
    for i, title in enumerate(titles):
        draw.text((i * cell + 3, 1), title, fill="black")
    return canvas


def save_grid(cells: torch.Tensor, titles: list[str], path: str | os.PathLike) -> Path:
    """Write a titled grid PNG (see grid_image); returns the path."""
    image = grid_image(cells, titles)
    return write_with(path, lambda handle: image.save(handle, format="PNG"))

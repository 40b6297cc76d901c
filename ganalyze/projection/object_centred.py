"""An object-centred projection autoencoder: where, how big, what colour, how sharp, and what shape, as separate numbers.

Why: in a code without layout (broadcast.py) the flow that moves position or colour also changes the shape
(measured: 62–89% of shapes kept), and a decoder trained on squared error draws no blur (real low-quality
images reconstructed 1.64σ too sharp). Here the code is, by construction,

    [pose (x, y, log-scale) | object colour (3) | background (3) | quality (blur) | shape (global_dim)]

The encoder reads pose, colour, background and quality from the whole image (coordinates beside the pixels),
then cuts a glimpse around the pose (a spatial transformer: ``affine_grid`` + ``grid_sample``) and reads the
shape code from it. The decoder draws the shape as a mask in the object's frame, places it with the inverse
transform, fills it with the object colour over a background (a learned basis of background images weighted by
the background numbers), and blurs the picture with a differentiable Gaussian of the quality's width. A small
penalty pins the frame to the mask (its centroid at the frame's centre, its area a fixed share of the frame),
so the pose numbers are where the object is and how big, not something the shape code may also hold. The
model learns all of it from pixels; the world's true factors are used only to measure it.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ganalyze.coordinates import coordinate_maps
from ganalyze.projection.blur import MAX_BLUR, MIN_BLUR, START_BLUR, blur, blur_of
from ganalyze.projection.degradation import BLUR_WEIGHT, blur_gap, degrade, swapped
from ganalyze.projection.autoencoder import AutoEncoder, downsampling_encoder, upsampling_decoder
from ganalyze.world.render import hsv_to_rgb

POSE_DIM, COLOUR_DIM, BACKGROUND_DIM, QUALITY_DIM = 3, 3, 3, 1
HUE_STEP = 60.0  # degrees of hue per unit of the colour's first number (hue_code)
NUISANCE_DIM = POSE_DIM + COLOUR_DIM + BACKGROUND_DIM + QUALITY_DIM  # numbers a flow may move; the shape follows
FRAME_AREA = 0.25  # share of the object frame the mask covers: the log-scale is then half the log of the object's area
TRAINING_KEYS = ("frame_weight", "degrade_weight", "fit_frame")  # settings a trained model may continue under other values of
MIN_SCALE, MAX_SCALE = 0.2, 1.5  # the frame's half-width in the image's [-1, 1] coordinates: bounded, so it cannot vanish


def pose_of(numbers: torch.Tensor) -> torch.Tensor:
    """The pose code's numbers (N, 3) -> (x, y, log-scale) softly kept in bounds (slope 1 in the middle): x, y in
    (-1, 1), the scale in (MIN_SCALE, MAX_SCALE), so the frame stays on the image and of an object's size while
    every number keeps a gradient (hard clamps froze the scale at a bound early in training)."""
    low, high = math.log(MIN_SCALE), math.log(MAX_SCALE)
    middle, half = (low + high) / 2, (high - low) / 2
    return torch.cat([torch.tanh(numbers[:, :2]), middle + half * torch.tanh((numbers[:, 2:3] - middle) / half)], 1)


def drawn_log_size(log_scale_number: torch.Tensor, frame_area: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The pose's log-scale number and the area share of its frame that the shape's mask fills -> (the drawn object's
    log-size, half the log of its area share of the image up to a constant: the bounded log-scale plus
    ½ log(frame_area / FRAME_AREA); its log-derivative in the number), so the size a flow moves is the drawn one."""
    low, high = math.log(MIN_SCALE), math.log(MAX_SCALE)
    middle, half = (low + high) / 2, (high - low) / 2
    squashed = torch.tanh((log_scale_number - middle) / half)
    log_size = middle + half * squashed + 0.5 * (frame_area.clamp_min(1e-4) / FRAME_AREA).log()
    return log_size, torch.log1p(-squashed.pow(2)).clamp_min(-30.0)


def log_scale_number(log_size: torch.Tensor, frame_area: torch.Tensor) -> torch.Tensor:
    """The inverse of drawn_log_size: the log-scale number that draws a shape whose mask fills ``frame_area`` at
    ``log_size`` (a size beyond the frame's bounds is drawn at the bound)."""
    low, high = math.log(MIN_SCALE), math.log(MAX_SCALE)
    middle, half = (low + high) / 2, (high - low) / 2
    bounded = (log_size - 0.5 * (frame_area.clamp_min(1e-4) / FRAME_AREA).log() - middle) / half
    return middle + half * torch.atanh(bounded.clamp(-1 + 1e-6, 1 - 1e-6))


def pixel_centres(size: int) -> torch.Tensor:
    """(2, size, size): x and y of every pixel's centre in the [-1, 1] coordinates of affine_grid (align_corners
    false), so a pose read off a map is the pose grid_sample places at."""
    return coordinate_maps(size, size) * (size - 1) / size


def pose_from_objectness(objectness: torch.Tensor) -> torch.Tensor:
    """An objectness map (N, 1, R, R) in [0, 1] -> pose (x, y, log-scale): its centroid in [-1, 1] coordinates, and
    the frame half-width 2·sqrt(area share), so the mask covers FRAME_AREA of the frame. Reading the pose off a
    learned map (rather than regressing it) gives a gradient wherever the map is wrong: a dense regressor of
    the pose did not learn where objects are in 400 steps (correlation with the true x about 0)."""
    coords = pixel_centres(objectness.shape[-1]).to(objectness)
    mass = objectness.mean((1, 2, 3)).clamp_min(1e-4)
    centroid = (objectness * coords).mean((2, 3)) / mass[:, None]
    return torch.cat([centroid, (0.5 * mass.log() - 0.5 * math.log(FRAME_AREA))[:, None]], 1)


def colour_of(numbers: torch.Tensor, hue_code: bool) -> torch.Tensor:
    """The colour code's numbers (N, 3) -> RGB (N, 3): σ(c) per channel, or with ``hue_code`` hue HUE_STEP·c₀
    degrees (around the circle), saturation σ(c₁), value σ(c₂), where a hue is one number a per-number flow can
    move in order."""
    if not hue_code:
        return torch.sigmoid(numbers)
    return hsv_to_rgb(HUE_STEP * numbers[:, 0], torch.sigmoid(numbers[:, 1]), torch.sigmoid(numbers[:, 2]))


def mask_moments(frame_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A mask in the object frame (N, 1, S, S) -> (its area share of the frame (N,), its centroid (N, 2) in the
    frame's [-1, 1] coordinates)."""
    coords = pixel_centres(frame_mask.shape[-1]).to(frame_mask)
    area = frame_mask.mean((1, 2, 3))
    return area, (frame_mask * coords).mean((2, 3)) / area.clamp_min(1e-3)[:, None]


def fitted_pose(pose: torch.Tensor, frame_mask: torch.Tensor) -> torch.Tensor:
    """The frame that places a drawn mask so that the object's centroid is the pose's (x, y) and its area share
    of the image FRAME_AREA·scale², whatever the mask's own area and centroid: the frame is scaled by
    √(FRAME_AREA / mask area) and shifted by the mask's centroid. The pose numbers are then the object's place
    and size by construction, and a flow that moves them moves the drawn object's by as much."""
    area, centroid = mask_moments(frame_mask)
    log_scale = pose[:, 2] + 0.5 * (math.log(FRAME_AREA) - area.clamp_min(1e-3).log())
    return torch.cat([pose[:, :2] - log_scale.exp()[:, None] * centroid, log_scale[:, None]], 1)


def frame_transform(pose: torch.Tensor, inverse: bool = False) -> torch.Tensor:
    """Affine matrices (N, 2, 3) of the object frame, pose = (x, y, log-scale) in the image's [-1, 1] coordinates:
    frame -> image (to cut a glimpse) or, with ``inverse``, image -> frame (to place a drawn mask)."""
    x, y, log_scale = pose.unbind(1)
    scale, zero = log_scale.exp(), torch.zeros_like(x)
    if inverse:
        s = 1.0 / scale
        return torch.stack([torch.stack([s, zero, -x * s], 1), torch.stack([zero, s, -y * s], 1)], 1)
    return torch.stack([torch.stack([scale, zero, x], 1), torch.stack([zero, scale, y], 1)], 1)


def warp(images: torch.Tensor, theta: torch.Tensor, size: int) -> torch.Tensor:
    """Sample ``images`` at the points theta maps a size×size grid of [-1, 1]² to (bilinear, zeros outside)."""
    grid = F.affine_grid(theta, [len(images), images.shape[1], size, size], align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


class ObjectCentredAutoEncoder(AutoEncoder):
    """VAE: images in [0, 1] (N, 3, R, R) <-> codes (N, NUISANCE_DIM + global_dim): nuisance numbers, then shape.

    ``object_centred`` must be true and ``latent_channels`` 0 (they name this layout in the config);
    ``global_dim`` numbers of shape code; ``width`` channels at full resolution (doubled per stage);
    ``stages`` 2× steps of the mask decoder from its R / 2^stages grid; ``glimpse`` the side of the object-frame
    view the shape is read from; ``frame_weight`` the weight of the frame penalty; ``hue_code`` colour numbers as
    hue, saturation and value instead of red, green and blue; ``degrade_weight`` > 0 trains the degradation
    consistency of degradation.py with that weight; ``fit_frame`` places each mask by fitted_pose, so the pose
    is the drawn object's centroid and size. Encode and save are AutoEncoder's.
    """

    def __init__(self, resolution: int = 32, latent_channels: int = 0, stages: int = 2, width: int = 16,
                 global_dim: int = 6, decoder_depth: int = 2, object_centred: bool = True, glimpse: int = 16,
                 frame_weight: float = 10.0, hue_code: bool = False, degrade_weight: float = 0.0,
                 fit_frame: bool = False):
        nn.Module.__init__(self)  # AutoEncoder's layers are not built: this one has its own
        side = resolution // 2**stages
        if not object_centred or latent_channels != 0 or global_dim < 1:
            raise ValueError(f"an object-centred autoencoder has object_centred=true, latent_channels=0 and "
                             f"global_dim >= 1 (shape numbers), got object_centred={object_centred}, "
                             f"latent_channels={latent_channels}, global_dim={global_dim}")
        if stages < 1 or side * 2**stages != resolution or glimpse < 8 or glimpse % 4 or frame_weight < 0 or degrade_weight < 0:
            raise ValueError(f"resolution {resolution} must be divisible by 2**stages = {2 ** stages} (stages >= 1), "
                             f"glimpse ({glimpse}) a multiple of 4 of at least 8, frame_weight ({frame_weight}) and "
                             f"degrade_weight ({degrade_weight}) >= 0")
        self.config = {"resolution": resolution, "latent_channels": 0, "stages": stages, "width": width,
                       "global_dim": global_dim, "decoder_depth": decoder_depth, "object_centred": True,
                       "glimpse": glimpse, "frame_weight": frame_weight, "hue_code": bool(hue_code),
                       "degrade_weight": float(degrade_weight), "fit_frame": bool(fit_frame)}
        self.resolution, self.glimpse, self.frame_weight, self.hue_code = resolution, glimpse, frame_weight, bool(hue_code)
        self.degrade_weight, self.fit_frame = float(degrade_weight), bool(fit_frame)
        self.nuisance_dim, self.shape_dim = NUISANCE_DIM, global_dim
        self.latent_shape, self.spatial_dim = (0, 1, 1), 0
        self.global_dim = self.latent_dim = NUISANCE_DIM + global_dim
        chans = [width * 2**i for i in range(stages + 1)]
        self.objectness = nn.Sequential(nn.Conv2d(3 + 2, width, 3, padding=1), nn.LeakyReLU(0.2),
                                        nn.Conv2d(width, width, 3, padding=1), nn.LeakyReLU(0.2), nn.Conv2d(width, 1, 1))
        self.scene = nn.Sequential(*downsampling_encoder(3 + 2, chans), nn.Flatten(),  # the other means and every log-variance
                                   nn.Linear(chans[-1] * side * side, 4 * chans[-1]), nn.LeakyReLU(0.2),
                                   nn.Linear(4 * chans[-1], 2 * NUISANCE_DIM - POSE_DIM))
        g = glimpse // 4
        self.shape_reader = nn.Sequential(*downsampling_encoder(3, [width, 2 * width, 4 * width]), nn.Flatten(),
                                          nn.Linear(4 * width * g * g, 4 * width), nn.LeakyReLU(0.2),
                                          nn.Linear(4 * width, 2 * global_dim))
        with torch.no_grad():  # start with a mild blur
            self.scene[-1].bias[NUISANCE_DIM - POSE_DIM - 1] = math.log((START_BLUR - MIN_BLUR) / (MAX_BLUR - START_BLUR))
        self.mask_decoder = nn.Sequential(*upsampling_decoder(global_dim + 2, chans, decoder_depth)[:-1],
                                          nn.Conv2d(chans[0], 1, 3, padding=1))
        self.background_basis = nn.Parameter(torch.zeros(1 + BACKGROUND_DIM, 3, resolution, resolution))
        self.register_buffer("image_coords", coordinate_maps(resolution, resolution), persistent=False)
        self.register_buffer("grid_coords", coordinate_maps(side, side), persistent=False)

    def posterior(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Images in [0, 1] -> (mean, log-variance) of the code: the pose from a learned objectness map, the other
        nuisance numbers from the whole image, then the shape numbers from the glimpse the (mean) pose cuts out."""
        pixels = torch.cat([images * 2 - 1, self.image_coords.expand(len(images), -1, -1, -1)], dim=1)
        pose = pose_from_objectness(torch.sigmoid(self.objectness(pixels)))
        rest, n_logvar = self.scene(pixels).split([NUISANCE_DIM - POSE_DIM, NUISANCE_DIM], dim=1)
        n_mean = torch.cat([pose, rest], 1)
        view = warp(images * 2 - 1, frame_transform(pose_of(pose)), self.glimpse)
        s_mean, s_logvar = self.shape_reader(view).chunk(2, dim=1)
        return torch.cat([n_mean, s_mean], 1), torch.cat([n_logvar, s_logvar], 1).clamp(-12.0, 4.0)

    def parts(self, codes: torch.Tensor) -> dict[str, torch.Tensor]:
        """The drawing of codes, step by step: the mask in the object frame, placed in the image, the object
        colour, the background, the blur σ (pixels) and the image (N, 3, R, R) in [0, 1]."""
        pose, colour, background, quality, shape = codes.split(
            [POSE_DIM, COLOUR_DIM, BACKGROUND_DIM, QUALITY_DIM, self.shape_dim], dim=1)
        frame_mask = self.frame_mask(shape)
        placed = fitted_pose(pose_of(pose), frame_mask) if self.fit_frame else pose_of(pose)
        mask = warp(frame_mask, frame_transform(placed, inverse=True), self.resolution)
        back = self.background(background)
        rgb = colour_of(colour, self.hue_code)[:, :, None, None]
        sigma = blur_of(quality[:, 0])
        image = blur(mask * rgb + (1 - mask) * back, sigma)
        return {"frame_mask": frame_mask, "mask": mask, "colour": rgb, "background": back, "blur": sigma, "image": image}

    def frame_mask(self, shape: torch.Tensor) -> torch.Tensor:
        """Shape numbers (N, global_dim) -> the object's mask in its frame (N, 1, S, S), S the code grid's side."""
        side = self.grid_coords.shape[-1]
        grid = torch.cat([shape[:, :, None, None].expand(-1, -1, side, side),
                          self.grid_coords.expand(len(shape), -1, -1, -1)], dim=1)
        return torch.sigmoid(self.mask_decoder(grid))

    def frame_area(self, shape: torch.Tensor) -> torch.Tensor:
        """Shape numbers (N, global_dim) -> the area share of its frame the drawn mask fills (N,)."""
        return mask_moments(self.frame_mask(shape))[0]

    def background(self, numbers: torch.Tensor) -> torch.Tensor:
        """The background numbers (N, BACKGROUND_DIM) -> background images (N, 3, R, R): σ of the learned basis weighted by them."""
        weights = torch.cat([torch.ones_like(numbers[:, :1]), numbers], 1)
        return torch.sigmoid(torch.einsum("nk,kchw->nchw", weights, self.background_basis))

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes -> images in [0, 1]."""
        return self.parts(codes)["image"]

    def frame_penalty(self, frame_mask: torch.Tensor) -> torch.Tensor:
        """Per image: squared distance of the mask's centroid from the frame's centre plus the squared gap of its
        area share to FRAME_AREA, so the pose holds where the object is and how big."""
        area, centroid = mask_moments(frame_mask)
        return centroid.pow(2).sum(1) + (area - FRAME_AREA).pow(2)

    def loss(self, images: torch.Tensor, kl_weight: float, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """VAE loss per image: summed squared pixel error + kl_weight · KL + frame_weight · frame penalty; with
        degrade_weight, the first half of the batch is also degraded (degradation.py) and degrade_weight · (the two
        swapped reconstructions + BLUR_WEIGHT · blur gap) is added."""
        n, half = len(images), len(images) // 2 if self.degrade_weight else 0
        blurred, degraded, applied = degrade(images[:half], generator) if half else (images[:0],) * 3
        mean, logvar = self.posterior(torch.cat([images, degraded]))
        noise = torch.randn(mean.shape, generator=generator, device=mean.device)
        sampled = mean + noise * (0.5 * logvar).exp()
        q = self.nuisance_dim - 1  # the blur number
        clean, dirty = sampled[:half], sampled[n:]
        drawn = self.parts(torch.cat([sampled[:n], swapped(dirty, clean, q), swapped(clean, dirty, q)]))
        errors = (drawn["image"] - torch.cat([images, images[:half], blurred])).pow(2).flatten(1).sum(1)
        rec = errors[:n].mean()
        kl = 0.5 * (mean.pow(2) + logvar.exp() - 1 - logvar).sum(1).mean()
        frame = self.frame_penalty(drawn["frame_mask"]).mean()
        parts = {"reconstruction": rec, "kl": kl, "frame": frame}
        total = rec + kl_weight * kl + self.frame_weight * frame
        if half:
            gap = blur_gap(mean[:half, q], mean[n:, q], applied)
            parts.update(content_through_degradation=errors[n:n + half].mean(), blur_drawn=errors[n + half:].mean(), blur_gap=gap)
            total = total + self.degrade_weight * (errors[n:].sum() / half + BLUR_WEIGHT * gap)
        return {"loss": total, **parts}

"""Synthetic shapes dataset: PIL-rendered coloured shapes with varied captions, deterministic by seed.

A fixed set of (colour, shape) combinations never appears in training data; it is what zero-shot is measured on.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from PIL import Image, ImageDraw

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (215, 35, 35),
    "green": (35, 160, 60),
    "blue": (35, 75, 215),
    "yellow": (235, 205, 25),
    "purple": (130, 50, 175),
    "orange": (245, 130, 25),
    "pink": (245, 125, 190),
}
SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "star", "diamond", "cross")
SIZES: tuple[str, ...] = ("small", "large")
# 3x3 grid cells (row, col) -> phrase used in captions.
POSITIONS: dict[tuple[int, int], tuple[str, ...]] = {
    (0, 0): ("in the top left", "at the top left"),
    (0, 1): ("at the top", "in the top middle"),
    (0, 2): ("in the top right", "at the top right"),
    (1, 0): ("on the left", "at the left"),
    (1, 1): ("in the center", "in the middle"),
    (1, 2): ("on the right", "at the right"),
    (2, 0): ("in the bottom left", "at the bottom left"),
    (2, 1): ("at the bottom", "in the bottom middle"),
    (2, 2): ("in the bottom right", "at the bottom right"),
}
SIZE_WORDS: dict[str, tuple[str, ...]] = {"small": ("small", "little", "tiny"), "large": ("large", "big")}
CAPTION_TEMPLATES: tuple[str, ...] = (
    "{a} {obj}{pos}",
    "there is {a} {obj}{pos}",
    "a photo of {a} {obj}{pos}",
    "an image of {a} {obj}{pos}",
    "a picture of {a} {obj}{pos}",
    "{a} {obj} on a plain background{pos}",
    "{obj}{pos}",
    "one {obj}{pos}",
    "a drawing of {a} {obj}{pos}",
    "this shape is {a} {obj}{pos}",
)
# Held out of training: every colour twice, every shape at least twice, so neither attribute alone names a class.
HELDOUT_COMBOS: tuple[tuple[str, str], ...] = tuple(
    (colour, SHAPES[(i + k) % len(SHAPES)]) for i, colour in enumerate(COLOURS) for k in (0, 3)
)
CANVAS = 80
SUPERSAMPLE = 2


@dataclass(frozen=True)
class Sample:
    """One generated picture's attributes; `render` turns it into pixels, `caption` into words."""

    colour: str
    shape: str
    size: str
    cell: tuple[int, int]
    cx: float
    cy: float
    radius: float
    angle: float
    colour_rgb: tuple[int, int, int]
    background: tuple[int, int, int]
    width: int = CANVAS
    height: int = CANVAS

    @property
    def label(self) -> str:
        return f"{self.colour} {self.shape}"


def train_combos() -> list[tuple[str, str]]:
    held = set(HELDOUT_COMBOS)
    return [(c, s) for c in COLOURS for s in SHAPES if (c, s) not in held]


def labels(combos: list[tuple[str, str]] | tuple[tuple[str, str], ...]) -> list[str]:
    return [f"{c} {s}" for c, s in combos]


def sample_attributes(
    rng: random.Random,
    combos: list[tuple[str, str]] | tuple[tuple[str, str], ...],
    width: int = CANVAS,
    height: int = CANVAS,
) -> Sample:
    colour, shape = combos[rng.randrange(len(combos))]
    size = rng.choice(SIZES)
    cell = (rng.randrange(3), rng.randrange(3))
    short = min(width, height)
    radius = short * (rng.uniform(0.10, 0.13) if size == "small" else rng.uniform(0.20, 0.24))
    # Centres on a 3x3 grid inside the central square (what survives the center crop), with jitter.
    margin = radius + short * 0.04
    x0, y0 = (width - short) / 2, (height - short) / 2
    step = (short - 2 * margin) / 2
    jitter = short * 0.03
    cx = x0 + margin + cell[1] * step + rng.uniform(-jitter, jitter)
    cy = y0 + margin + cell[0] * step + rng.uniform(-jitter, jitter)
    base = COLOURS[colour]
    r, g, b = (min(255, max(0, v + rng.randint(-18, 18))) for v in base)
    background = (rng.randint(200, 250), rng.randint(200, 250), rng.randint(200, 250))
    angle = rng.uniform(-12.0, 12.0)
    return Sample(colour, shape, size, cell, cx, cy, radius, angle, (r, g, b), background, width, height)


def _polygon(shape: str, cx: float, cy: float, r: float, angle: float) -> list[tuple[float, float]]:
    if shape == "square":
        pts = [(-0.8, -0.8), (0.8, -0.8), (0.8, 0.8), (-0.8, 0.8)]
    elif shape == "diamond":
        pts = [(0.0, -1.0), (0.75, 0.0), (0.0, 1.0), (-0.75, 0.0)]
    elif shape == "triangle":
        pts = [(math.cos(math.radians(a)), math.sin(math.radians(a))) for a in (-90, 30, 150)]
    elif shape == "star":
        pts = [
            (
                (1.0 if k % 2 == 0 else 0.42) * math.cos(math.radians(-90 + 36 * k)),
                (1.0 if k % 2 == 0 else 0.42) * math.sin(math.radians(-90 + 36 * k)),
            )
            for k in range(10)
        ]
    elif shape == "cross":
        a, b = 0.32, 0.95
        pts = [
            (-a, -b),
            (a, -b),
            (a, -a),
            (b, -a),
            (b, a),
            (a, a),
            (a, b),
            (-a, b),
            (-a, a),
            (-b, a),
            (-b, -a),
            (-a, -a),
        ]
    else:
        raise ValueError(f"unknown polygon shape {shape!r}")
    t = math.radians(angle)
    c, s = math.cos(t), math.sin(t)
    return [(cx + r * (x * c - y * s), cy + r * (x * s + y * c)) for x, y in pts]


def render(sample: Sample) -> Image.Image:
    """Draw the sample at SUPERSAMPLE x resolution and downsample, for antialiased edges."""
    k = SUPERSAMPLE
    w, h = sample.width * k, sample.height * k
    img = Image.new("RGB", (w, h), sample.background)
    draw = ImageDraw.Draw(img)
    cx, cy, r = sample.cx * k, sample.cy * k, sample.radius * k
    if sample.shape == "circle":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=sample.colour_rgb)
    else:
        draw.polygon(_polygon(sample.shape, cx, cy, r, sample.angle), fill=sample.colour_rgb)
    return img.resize((sample.width, sample.height), Image.BOX)


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def caption(sample: Sample, rng: random.Random, p_size: float = 0.6, p_pos: float = 0.6) -> str:
    """A random phrasing of the sample; colour and shape always, size and position with the given odds."""
    words = [sample.colour, sample.shape]
    if rng.random() < p_size:
        words.insert(0, rng.choice(SIZE_WORDS[sample.size]))
    obj = " ".join(words)
    pos = " " + rng.choice(POSITIONS[sample.cell]) if rng.random() < p_pos else ""
    text = rng.choice(CAPTION_TEMPLATES).format(a=_article(obj), obj=obj, pos=pos)
    return text + "." if rng.random() < 0.4 else text  # zero-shot templates end with a full stop


def generate(n: int, seed: int, combos: list[tuple[str, str]] | tuple[tuple[str, str], ...]) -> list[Sample]:
    rng = random.Random(seed)
    return [sample_attributes(rng, combos) for _ in range(n)]


def captions(samples: list[Sample], seed: int, p_size: float = 0.6, p_pos: float = 0.6) -> list[str]:
    rng = random.Random(seed)
    return [caption(s, rng, p_size, p_pos) for s in samples]


def heldout_samples(n: int, seed: int) -> list[Sample]:
    """Images of the held-out combinations only, balanced across them."""
    rng = random.Random(seed)
    out: list[Sample] = []
    for i in range(n):
        combo = HELDOUT_COMBOS[i % len(HELDOUT_COMBOS)]
        out.append(sample_attributes(rng, [combo]))
    return out

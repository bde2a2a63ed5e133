"""Contrastive objectives chosen by a config string: `build_objective("simclr", encoder, head, **kw)`.

| name    | batch keys            | module        |
|---------|-----------------------|---------------|
| clip    | images, input_ids     | clip.py       |
| siglip  | images, input_ids     | clip.py       |
| simclr  | views                 | simclr.py     |
| supcon  | views, labels         | simclr.py     |
| moco    | views                 | moco.py       |
| byol    | views                 | byol.py       |
| triplet | views, labels         | triplet.py    |
"""

from __future__ import annotations

import inspect
from typing import Any

from torch import nn

from ..encoders import EncoderConfig, HeadConfig, ImageEmbedder, build_image_embedder
from ..models import ModelConfig, TextTower
from .base import ObjectiveBase
from .byol import BYOLObjective
from .clip import ClipObjective
from .moco import MoCoObjective
from .simclr import SimCLRObjective
from .triplet import TripletObjective

OBJECTIVES: dict[str, type[ObjectiveBase]] = {
    "clip": ClipObjective,
    "siglip": ClipObjective,
    "simclr": SimCLRObjective,
    "supcon": SimCLRObjective,
    "moco": MoCoObjective,
    "byol": BYOLObjective,
    "triplet": TripletObjective,
}
_FIXED = {
    "clip": {"loss": "clip"},
    "siglip": {"loss": "siglip"},
    "simclr": {"supervised": False},
    "supcon": {"supervised": True},
}


def objective_options(name: str) -> list[str]:
    """The keyword options `build_objective(name, ...)` accepts for this objective."""
    params = inspect.signature(OBJECTIVES[name].__init__).parameters
    return sorted(set(params) - {"self", "image", "text"} - set(_FIXED.get(name, {})))


def build_objective(
    name: str,
    encoder: EncoderConfig | None = None,
    head: HeadConfig | None = None,
    text: ModelConfig | None = None,
    *,
    image_tower: ImageEmbedder | None = None,
    text_tower: nn.Module | None = None,
    **options: Any,
) -> ObjectiveBase:
    """Build the objective `name` with a fresh image tower (`encoder` backbone + `head`) unless `image_tower` is
    given (e.g. pretrained). Image-text objectives also need `text` (a `models.TextTower` is built from it) or
    `text_tower`. `options` are the objective's own knobs (see `objective_options(name)`), e.g.
    temperature=0.1, queue_size=4096, momentum=0.99, decay=0.99, margin=0.2, lock=("text",).
    """
    if name not in OBJECTIVES:
        raise ValueError(f"unknown objective {name!r}; known: {sorted(OBJECTIVES)}")
    known = objective_options(name)
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise ValueError(f"objective {name!r} has no option(s) {unknown}; known: {known}")
    image = (
        image_tower
        if image_tower is not None
        else build_image_embedder(encoder or EncoderConfig(), head or HeadConfig())
    )
    kwargs: dict[str, Any] = {**_FIXED.get(name, {}), **options}
    if name in ("clip", "siglip"):
        if text_tower is None:
            if text is None:
                raise ValueError(f"objective {name!r} needs a text tower: pass text=ModelConfig(...) or text_tower=")
            text_tower = TextTower(text)
        return ClipObjective(image, text_tower, **kwargs)
    return OBJECTIVES[name](image, **kwargs)


__all__ = [
    "OBJECTIVES",
    "BYOLObjective",
    "ClipObjective",
    "MoCoObjective",
    "ObjectiveBase",
    "SimCLRObjective",
    "TripletObjective",
    "build_objective",
    "build_objective_from_config",
    "clip_model_config",
    "cnn_channels",
    "load_tower",
    "objective_options",
]


def cnn_channels(image_width: int, image_layers: int) -> tuple[int, ...]:
    """The CNN channel ladder of a run config: doubling up to `image_width` over `image_layers` stages."""
    return tuple(max(8, image_width // 2 ** (image_layers - 1 - i)) for i in range(image_layers))


def clip_model_config(e: Any) -> ModelConfig:
    """`models.ModelConfig` for a run config's flat `encoder` section (text fields; image fields when CNN)."""
    image = (
        {"image_size": e.image_size, "image_channels": cnn_channels(e.image_width, e.image_layers)}
        if e.image == "cnn"
        else {}
    )
    return ModelConfig(
        vocab_size=e.vocab_size,
        context_length=e.context_length,
        text_width=e.text_width,
        text_layers=e.text_layers,
        text_heads=e.text_heads,
        proj_hidden=e.proj_hidden,
        embed_dim=e.embed_dim,
        **image,
    )


def build_objective_from_config(cfg: Any) -> ObjectiveBase:
    """`build_objective` from a run config shaped like `config.RunConfig` (read by attribute, so this package
    does not depend on the config module): `objective`, `objective_args` and the flat `encoder` section."""
    e = cfg.encoder
    if e.image == "cnn":
        encoder = EncoderConfig(
            kind="cnn", image_size=e.image_size, channels=cnn_channels(e.image_width, e.image_layers)
        )
    else:
        encoder = EncoderConfig(
            kind=e.image,
            image_size=e.image_size,
            patch=e.patch_size,
            width=e.image_width,
            depth=e.image_layers,
            heads=e.image_heads,
            pool="cls",
        )
    head = HeadConfig(hidden=e.proj_hidden, out=e.embed_dim)
    text = clip_model_config(e)
    image_tower = build_image_embedder(encoder, head)
    if e.pretrained_image:
        load_tower(image_tower, e.pretrained_image, "image.")
    text_tower = None
    if cfg.objective in ("clip", "siglip"):
        text_tower = TextTower(text)
        if e.pretrained_text:
            load_tower(text_tower, e.pretrained_text, "text.")
    options = dict(cfg.objective_args)
    lock = tuple(name for name, on in (("image", e.lock_image), ("text", e.lock_text)) if on)
    if lock:
        options["lock"] = lock
    return build_objective(cfg.objective, image_tower=image_tower, text_tower=text_tower, **options)


def load_tower(tower: nn.Module, path: str, prefix: str) -> None:
    """Load a tower's weights from a .safetensors file or a torch checkpoint (a state dict, or a dict with
    "state_dict"); keys may carry the tower's prefix ("image." / "text."), as in a CLIP checkpoint."""
    import torch

    if path.endswith(".safetensors"):
        from safetensors.torch import load_file

        state = load_file(path)
    else:
        state = torch.load(path, map_location="cpu", weights_only=False)
        state = state.get("state_dict", state)
    if any(k.startswith(prefix) for k in state):
        state = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    tower.load_state_dict(state)

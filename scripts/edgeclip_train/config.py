"""The run configuration of the generic trainer: one dataclass tree, loaded from JSON plus `a.b=value` overrides.

`load_config(path, overrides)` builds it; `validate(cfg, world_size)` raises one `ConfigError` listing every
problem it finds, so a bad config fails before any data is read or any model is built.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """An invalid run configuration; `problems` lists each one in words."""

    code = "invalid_config"

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid config:\n  - " + "\n  - ".join(problems))


# What each objective needs from the data. The objectives package is the source of truth for names when it is
# importable (`OBJECTIVES`); this table only adds what validation must know before anything is built.
OBJECTIVE_NEEDS: dict[str, frozenset[str]] = {
    "clip": frozenset({"captions"}),
    "siglip": frozenset({"captions"}),
    "simclr": frozenset(),
    "supcon": frozenset(),  # without labels it reduces to SimCLR
    "moco": frozenset(),
    "byol": frozenset(),
    "triplet": frozenset({"labels"}),
}

# Data sources and what each can provide (edgeclip_train.datasets); labels of csv/webdataset are optional columns
# or .cls files, so a missing one is only found when the data is read.
DATA_SOURCES: dict[str, frozenset[str]] = {
    "synthetic": frozenset({"captions", "labels"}),
    "digits": frozenset({"captions", "labels"}),
    "csv": frozenset({"captions", "labels"}),
    "folder": frozenset({"captions", "labels"}),  # captions from the class names through templates
    "webdataset": frozenset({"captions", "labels"}),
}

PRECISIONS = ("fp32", "bf16")
IMAGE_ENCODERS = ("cnn", "vit")


def known_objectives() -> list[str]:
    names = set(OBJECTIVE_NEEDS)
    try:  # the objectives package lands separately; its registry wins when present
        from .objectives import OBJECTIVES  # type: ignore[attr-defined]

        names |= set(OBJECTIVES)
    except ImportError:
        pass
    return sorted(names)


@dataclass
class EncoderConfig:
    image: str = "cnn"  # "cnn" | "vit"
    image_size: int = 64
    image_width: int = 64  # ViT width / last CNN stage channels
    image_layers: int = 4
    image_heads: int = 4
    patch_size: int = 8
    text_width: int = 64
    text_layers: int = 2
    text_heads: int = 4
    context_length: int = 32
    vocab_size: int = 1024
    embed_dim: int = 64
    proj_hidden: int = 128
    pretrained_image: str = ""  # checkpoint path; "" = random init
    pretrained_text: str = ""
    lock_image: bool = False  # LiT: the image tower is frozen
    lock_text: bool = False


@dataclass
class DataConfig:
    source: str = "synthetic"
    path: str = ""  # CSV/TSV file, image folder, or shard pattern; unused by synthetic/digits
    num_samples: int = 0  # synthetic: how many images; 0 = the source's default
    num_workers: int = 0  # DataLoader workers (data order stays fixed by seed/epoch)
    with_captions: bool = True  # False: image-only sources may skip captions entirely


@dataclass
class AugmentConfig:
    views: int = 2
    crop_scale: tuple[float, float] = (0.2, 1.0)
    flip_p: float = 0.5
    rotation_degrees: float = 0.0
    color_jitter: float = 0.4  # strength; 0 disables
    color_jitter_p: float = 0.8
    grayscale_p: float = 0.2
    blur_p: float = 0.0
    noise_std: float = 0.0
    patches: int = 0  # > 0: positives are this many patches of one image instead of augmented views


@dataclass
class OptimConfig:
    lr: float = 1e-3
    weight_decay: float = 0.05
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    warmup_steps: int = 0
    min_lr_ratio: float = 0.0  # cosine decays to lr * min_lr_ratio at the last step
    grad_clip: float = 1.0  # max global grad norm; 0 disables


@dataclass
class RunConfig:
    objective: str = "clip"
    objective_args: dict[str, Any] = field(default_factory=dict)  # passed through to build_objective
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    data: DataConfig = field(default_factory=DataConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    batch_size: int = 64  # global: samples per optimizer step over all ranks and accumulation micro-steps
    grad_accum_steps: int = 1
    precision: str = "fp32"  # "bf16": autocast on the run's device
    steps: int = 100
    seed: int = 0
    log_every: int = 10
    ckpt_every: int = 0  # 0: only at the end
    keep_checkpoints: int = 2  # newest N kept; 0 keeps all
    out_dir: str = "runs/run"
    progress: bool = True  # tqdm bar on rank 0 when stderr is a terminal
    sync_timing: bool = False  # cuda.synchronize around phases so data/compute times are honest (slower)
    find_unused_parameters: bool = False  # DDP: set when some parameters get no gradient in a step

    def micro_batch_size(self, world_size: int = 1) -> int:
        return self.batch_size // (world_size * self.grad_accum_steps)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# ---------------------------------------------------------------- building from dicts, files and overrides


def _convert(tp: Any, value: Any, where: str) -> Any:
    """Coerce a JSON value to the annotated field type; raise ConfigError naming the field otherwise."""
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError([f"{where}: expected an object, got {value!r}"])
        return _from_dict(tp, value, where + ".")
    if origin is tuple:
        args = typing.get_args(tp)
        if not isinstance(value, list | tuple) or len(value) != len(args):
            raise ConfigError([f"{where}: expected a list of {len(args)} numbers, got {value!r}"])
        return tuple(_convert(a, v, where) for a, v in zip(args, value, strict=True))
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError([f"{where}: expected an object, got {value!r}"])
        return dict(value)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError([f"{where}: expected true/false, got {value!r}"])
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError([f"{where}: expected an integer, got {value!r}"])
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError([f"{where}: expected a number, got {value!r}"])
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError([f"{where}: expected a string, got {value!r}"])
        return value
    return value


def _from_dict(cls: type, d: dict[str, Any], prefix: str = "") -> Any:
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(d) - set(names))
    if unknown:
        raise ConfigError([f"unknown field '{prefix}{k}'; known: {names}" for k in unknown])
    return cls(**{k: _convert(hints[k], v, prefix + k) for k, v in d.items()})


def config_from_dict(d: dict[str, Any]) -> RunConfig:
    return _from_dict(RunConfig, d)


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text  # bare strings: objective=simclr


def apply_overrides(d: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """`["optim.lr=3e-4", "objective=simclr", "augment.crop_scale=[0.3,1]"]` applied onto a plain dict."""
    out = json.loads(json.dumps(d))
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError([f"override {item!r}: expected key=value (e.g. optim.lr=3e-4)"])
        node = out
        parts = key.split(".")
        for p in parts[:-1]:
            if not isinstance(node.get(p), dict):
                raise ConfigError([f"override {item!r}: {p!r} is not a section"])
            node = node[p]
        node[parts[-1]] = _parse_value(raw)
    return out


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> RunConfig:
    """Defaults <- JSON file <- overrides. Not validated: call `validate` once the world size is known."""
    base = RunConfig().to_dict()
    if path is not None:
        try:
            file_d = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise ConfigError([f"cannot read config {path}: {e}"]) from e
        if not isinstance(file_d, dict):
            raise ConfigError([f"{path}: expected a JSON object at the top level"])
        config_from_dict(file_d)  # unknown keys and bad types are reported against the file's own content
        base = _merge(base, file_d)
    return config_from_dict(apply_overrides(base, overrides or []))


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for k, v in b.items():
        out[k] = _merge(a[k], v) if isinstance(v, dict) and isinstance(a.get(k), dict) and k != "objective_args" else v
    return out


# ---------------------------------------------------------------- validation


def _positive(problems: list[str], name: str, value: float) -> None:
    if value <= 0:
        problems.append(f"{name} must be positive, got {value}")


def validate(cfg: RunConfig, world_size: int = 1) -> RunConfig:
    p: list[str] = []
    known = known_objectives()
    if cfg.objective not in known:
        p.append(f"unknown objective {cfg.objective!r}; known: {known}")
    for name in ("batch_size", "grad_accum_steps", "steps", "log_every"):
        _positive(p, name, getattr(cfg, name))
    if cfg.seed < 0:
        p.append(f"seed must be >= 0, got {cfg.seed}")
    if cfg.ckpt_every < 0 or cfg.keep_checkpoints < 0:
        p.append("ckpt_every and keep_checkpoints must be >= 0")
    if world_size < 1:
        p.append(f"world_size must be >= 1, got {world_size}")
    elif cfg.batch_size > 0 and cfg.grad_accum_steps > 0:
        per = world_size * cfg.grad_accum_steps
        if cfg.batch_size % per:
            p.append(
                f"batch_size {cfg.batch_size} is not divisible by world_size {world_size} x grad_accum_steps "
                f"{cfg.grad_accum_steps} = {per}"
            )
    if cfg.precision not in PRECISIONS:
        p.append(f"precision must be one of {list(PRECISIONS)}, got {cfg.precision!r}")
    if not cfg.out_dir:
        p.append("out_dir must not be empty")

    o = cfg.optim
    _positive(p, "optim.lr", o.lr)
    if o.weight_decay < 0 or o.grad_clip < 0 or o.warmup_steps < 0:
        p.append("optim.weight_decay, optim.grad_clip and optim.warmup_steps must be >= 0")
    if not 0 <= o.min_lr_ratio <= 1:
        p.append(f"optim.min_lr_ratio must be in [0, 1], got {o.min_lr_ratio}")
    if not all(0 <= b < 1 for b in o.betas):
        p.append(f"optim.betas must be in [0, 1), got {list(o.betas)}")
    if cfg.steps > 0 and o.warmup_steps >= cfg.steps:
        p.append(f"optim.warmup_steps {o.warmup_steps} must be smaller than steps {cfg.steps}")

    e = cfg.encoder
    if e.image not in IMAGE_ENCODERS:
        p.append(f"encoder.image must be one of {list(IMAGE_ENCODERS)}, got {e.image!r}")
    for name in ("image_size", "image_width", "image_layers", "image_heads", "patch_size", "text_width",
                 "text_layers", "text_heads", "context_length", "vocab_size", "embed_dim", "proj_hidden"):
        _positive(p, f"encoder.{name}", getattr(e, name))
    if e.image == "vit" and e.patch_size > 0 and e.image_size % e.patch_size:
        p.append(f"encoder.image_size {e.image_size} is not divisible by encoder.patch_size {e.patch_size}")
    for tower, width, heads in (("image", e.image_width, e.image_heads), ("text", e.text_width, e.text_heads)):
        if heads > 0 and width % heads and (tower == "text" or e.image == "vit"):
            p.append(f"encoder.{tower}_width {width} is not divisible by encoder.{tower}_heads {heads}")

    a = cfg.augment
    if a.views < 2 and a.patches == 0:
        p.append(f"augment.views must be >= 2 for positive pairs, got {a.views}")
    if not 0 < a.crop_scale[0] <= a.crop_scale[1] <= 1:
        p.append(f"augment.crop_scale must satisfy 0 < min <= max <= 1, got {list(a.crop_scale)}")
    for name in ("flip_p", "color_jitter_p", "grayscale_p", "blur_p"):
        if not 0 <= getattr(a, name) <= 1:
            p.append(f"augment.{name} must be a probability in [0, 1], got {getattr(a, name)}")
    if a.noise_std < 0 or a.color_jitter < 0 or a.patches < 0:
        p.append("augment.noise_std, augment.color_jitter and augment.patches must be >= 0")

    d = cfg.data
    if d.source not in DATA_SOURCES:
        p.append(f"unknown data.source {d.source!r}; known: {sorted(DATA_SOURCES)}")
    else:
        provides = set(DATA_SOURCES[d.source])
        if not d.with_captions:
            provides.discard("captions")
        if d.source in ("csv", "folder", "webdataset") and not d.path:
            p.append(f"data.path is required for data.source {d.source!r}")
        for need in sorted(OBJECTIVE_NEEDS.get(cfg.objective, frozenset()) - provides):
            p.append(f"objective {cfg.objective!r} needs {need}, but data.source {d.source!r} gives none here")
    if d.num_workers < 0 or d.num_samples < 0:
        p.append("data.num_workers and data.num_samples must be >= 0")
    if p:
        raise ConfigError(p)
    return cfg


def main(argv: list[str] | None = None) -> int:
    """`python -m edgeclip_train.config run.json --set optim.lr=3e-4 --world-size 8`: print the resolved config,
    or every problem with it (exit code 2)."""
    import argparse
    import sys

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("config", nargs="?", default=None, help="JSON file; defaults when omitted")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--world-size", type=int, default=1)
    a = ap.parse_args(argv)
    try:
        cfg = validate(load_config(a.config, a.overrides), a.world_size)
    except ConfigError as e:
        print(e, file=sys.stderr)
        return 2
    print(json.dumps(cfg.to_dict(), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

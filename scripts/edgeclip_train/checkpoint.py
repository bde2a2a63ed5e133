"""Checkpoints: the trainer's resumable safetensors checkpoints (model + optimizer + step + data position + every
rank's RNG states), and reading a finished image-text run back as a `models.CLIPModel` for evaluation and export.

Trainer checkpoint layout, one file `<out_dir>/checkpoints/step-XXXXXXXX.safetensors`:
  tensors   model.<state_dict key>           objective.state_dict(): parameters and buffers (queues, EMA copies)
            optimizer.state.<i>.<key>        optimizer.state_dict()["state"] tensors (exp_avg, exp_avg_sq, step)
            rng.<rank>.torch                 torch CPU generator state
            rng.<rank>.cuda.0                the rank's current CUDA device generator (when CUDA is present)
            rng.<rank>.numpy                 numpy MT19937 key (int64)
            rng.<rank>.gen.<name>            named torch.Generators handed to the Trainer (e.g. augmentation)
  metadata  format        "edgeclip-train/1"
            trainer       JSON {step, epoch, batch_in_epoch, samples_seen, world_size}
            optimizer     JSON {param_groups, non-tensor state}
            rng           JSON [{python: random.getstate(), numpy: {pos, has_gauss, gauss}}] per rank
            config        JSON RunConfig.to_dict()
A run directory (`edgeclip_train.run`) adds tokenizer.json and results.json (metrics, preprocess, train time).
"""

from __future__ import annotations

import json
import os
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from tokenizers import Tokenizer

from .models import CLIPModel
from .objectives import clip_model_config
from .preprocess import ImagePreprocess


def _tuples(d: dict[str, Any]) -> dict[str, Any]:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}


def clip_model_from_run(cfg: Any, state: dict[str, torch.Tensor]) -> CLIPModel:
    """The `models.CLIPModel` of a "clip" run with the CNN image encoder (`cfg` shaped like `config.RunConfig`):
    the clip objective's state dict has CLIPModel's names, so it loads strictly."""
    e = cfg.encoder
    if e.image != "cnn":
        raise ValueError(f"only CNN image towers read back as models.CLIPModel, this run has {e.image!r}")
    mcfg = clip_model_config(e)
    model = CLIPModel(mcfg)
    model.load_state_dict({k: v for k, v in state.items() if k != "logit_bias"})
    return model.eval()


def load_checkpoint(path: Path) -> tuple[CLIPModel, Tokenizer, dict[str, Any]]:
    """A finished image-text run: `path` is its out_dir (newest checkpoint) or one step-*.safetensors in it.

    Returns (model, tokenizer, info): info holds "config" (RunConfig dict), "preprocess", "metrics",
    "train_seconds", "device", "train_samples" from the run's results.json.
    """
    from .config import config_from_dict

    path = Path(path)
    run_dir = path if path.is_dir() else path.parent.parent
    ckpt = latest_checkpoint(run_dir) if path.is_dir() else path
    if ckpt is None:
        raise FileNotFoundError(f"{run_dir}: no checkpoints/step-*.safetensors")
    with safe_open(str(ckpt), framework="pt", device="cpu") as f:
        config = json.loads((f.metadata() or {})["config"])
    cfg = config_from_dict(config)
    model = clip_model_from_run(cfg, load_model_state(ckpt))
    tok = Tokenizer.from_file(str(run_dir / "tokenizer.json"))
    results = json.loads((run_dir / "results.json").read_text())["meta"]
    info = {"config": config, "checkpoint": str(ckpt), **results}
    return model, tok, info


def preprocess_of(info: dict[str, Any]) -> ImagePreprocess:
    return ImagePreprocess(**_tuples(info["preprocess"]))


# ---------------------------------------------------------------- RNG states


def capture_rng(generators: dict[str, torch.Generator] | None = None) -> dict[str, Any]:
    """This process's python, numpy, torch CPU and CUDA generator states, plus any named generators."""
    return {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
        # this rank's device only: get_rng_state_all() would open a context on every visible GPU under torchrun
        "cuda": [torch.cuda.get_rng_state()] if torch.cuda.is_available() else [],
        "generators": {k: g.get_state() for k, g in (generators or {}).items()},
    }


def restore_rng(state: dict[str, Any], generators: dict[str, torch.Generator] | None = None) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"][0])
    saved = state.get("generators", {})
    for name, gen in (generators or {}).items():
        if name not in saved:
            raise KeyError(f"the checkpoint has no state for generator {name!r}; it has {sorted(saved)}")
        gen.set_state(saved[name])


def _rng_split(rank: int, st: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    name, key, pos, has_gauss, gauss = st["numpy"]
    tensors = {f"rng.{rank}.torch": st["torch"], f"rng.{rank}.numpy": torch.from_numpy(key.astype(np.int64))}
    tensors.update({f"rng.{rank}.cuda.{i}": t for i, t in enumerate(st["cuda"])})
    tensors.update({f"rng.{rank}.gen.{k}": t for k, t in st.get("generators", {}).items()})
    version, internal, gauss_next = st["python"]
    meta = {
        "python": [version, list(internal), gauss_next],
        "numpy": {"name": name, "pos": int(pos), "has_gauss": int(has_gauss), "gauss": float(gauss)},
        "cuda_devices": len(st["cuda"]),
        "generators": sorted(st.get("generators", {})),
    }
    return tensors, meta


def _rng_join(rank: int, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> dict[str, Any]:
    n = meta["numpy"]
    key = tensors[f"rng.{rank}.numpy"].numpy().astype(np.uint32)
    version, internal, gauss_next = meta["python"]
    return {
        "python": (version, tuple(internal), gauss_next),
        "numpy": (n["name"], key, n["pos"], n["has_gauss"], n["gauss"]),
        "torch": tensors[f"rng.{rank}.torch"],
        "cuda": [tensors[f"rng.{rank}.cuda.{i}"] for i in range(meta["cuda_devices"])],
        "generators": {k: tensors[f"rng.{rank}.gen.{k}"] for k in meta.get("generators", [])},
    }


# ---------------------------------------------------------------- trainer checkpoints

FORMAT = "edgeclip-train/1"
_STEP_FILE = re.compile(r"^step-(\d+)\.safetensors$")


@dataclass
class TrainCheckpoint:
    model: dict[str, torch.Tensor]
    optimizer: dict[str, Any]  # ready for optimizer.load_state_dict
    trainer: dict[str, Any]  # step, epoch, batch_in_epoch, samples_seen, world_size
    rng: list[dict[str, Any]]  # per rank, ready for restore_rng
    config: dict[str, Any]


def checkpoint_path(out_dir: str | Path, step: int) -> Path:
    return Path(out_dir) / "checkpoints" / f"step-{step:08d}.safetensors"


def list_checkpoints(out_dir: str | Path) -> list[Path]:
    """Trainer checkpoints under out_dir, oldest step first."""
    d = Path(out_dir) / "checkpoints"
    if not d.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in d.iterdir() if (m := _STEP_FILE.match(p.name))]
    return [p for _, p in sorted(found)]


def latest_checkpoint(out_dir: str | Path) -> Path | None:
    found = list_checkpoints(out_dir)
    return found[-1] if found else None


def _cpu(t: torch.Tensor) -> torch.Tensor:
    # clone: tied weights share storage, which safetensors refuses; loading copies into both again
    return t.detach().to("cpu", copy=True).contiguous()


def save_train_checkpoint(
    path: str | Path,
    model_state: dict[str, torch.Tensor],
    optimizer_state: dict[str, Any],
    trainer: dict[str, Any],
    rng: list[dict[str, Any]],
    config: dict[str, Any],
) -> Path:
    """Write atomically (temp file + rename), so a kill mid-write leaves the previous checkpoint intact."""
    path = Path(path)
    tensors = {f"model.{k}": _cpu(v) for k, v in model_state.items()}
    extra: dict[str, dict[str, Any]] = {}
    for idx, st in optimizer_state["state"].items():
        for k, v in st.items():
            if isinstance(v, torch.Tensor):
                tensors[f"optimizer.state.{idx}.{k}"] = _cpu(v)
            else:
                extra.setdefault(str(idx), {})[k] = v
    rng_meta = []
    for r, st in enumerate(rng):
        t, m = _rng_split(r, st)
        tensors.update({k: _cpu(v) for k, v in t.items()})
        rng_meta.append(m)
    metadata = {
        "format": FORMAT,
        "trainer": json.dumps(trainer),
        "optimizer": json.dumps({"param_groups": optimizer_state["param_groups"], "extra": extra}),
        "rng": json.dumps(rng_meta),
        "config": json.dumps(config),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata=metadata)
    os.replace(tmp, path)
    return path


def load_train_checkpoint(path: str | Path) -> TrainCheckpoint:
    with safe_open(str(path), framework="pt", device="cpu") as f:
        meta = f.metadata() or {}
        if meta.get("format") != FORMAT:
            raise ValueError(f"{path}: not a trainer checkpoint (format {meta.get('format')!r}, want {FORMAT!r})")
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    model = {k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")}
    opt_meta = json.loads(meta["optimizer"])
    state: dict[int, dict[str, Any]] = {}
    for k, v in tensors.items():
        if k.startswith("optimizer.state."):
            idx, name = k[len("optimizer.state.") :].split(".", 1)
            state.setdefault(int(idx), {})[name] = v
    for idx, kv in opt_meta["extra"].items():
        state.setdefault(int(idx), {}).update(kv)
    rng = [_rng_join(r, tensors, m) for r, m in enumerate(json.loads(meta["rng"]))]
    return TrainCheckpoint(
        model=model,
        optimizer={"state": state, "param_groups": opt_meta["param_groups"]},
        trainer=json.loads(meta["trainer"]),
        rng=rng,
        config=json.loads(meta["config"]),
    )


def load_model_state(path: str | Path) -> dict[str, torch.Tensor]:
    """Only the objective's state_dict from a trainer checkpoint (evaluation, export)."""
    with safe_open(str(path), framework="pt", device="cpu") as f:
        return {k[len("model.") :]: f.get_tensor(k) for k in f.keys() if k.startswith("model.")}

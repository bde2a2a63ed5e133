"""Train the shipped default model (shapes-clip-s): `run.py` on configs/shapes-clip.json, kept as a short command.

Usage (from scripts/):  ../.venv/bin/python -m edgeclip_train.train --out ../runs/shapes-clip-s [--steps N] [--seed S]
Same as `python -m edgeclip_train.run configs/shapes-clip.json --set out_dir=... [--set steps=N] [--set seed=S]`;
there is one training loop (trainer.Trainer), this file only picks the config.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from . import run

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "configs" / "shapes-clip.json"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("../runs/shapes-clip-s"))
    ap.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    ap.add_argument("--seed", type=int)
    ap.add_argument("--steps", type=int)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    a = ap.parse_args(argv)
    sets = [f"out_dir={a.out}"]
    sets += [f"seed={a.seed}"] if a.seed is not None else []
    sets += [f"steps={a.steps}"] if a.steps is not None else []
    args = [str(a.config), "--threads", str(a.threads)]
    for item in sets + a.overrides:
        args += ["--set", item]
    return run.main(args)


if __name__ == "__main__":
    raise SystemExit(main())

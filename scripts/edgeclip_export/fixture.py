"""The held-out evaluation fixture for the service (test/fixtures/heldout-<id>.json), see models/FORMAT.md."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

from edgeclip_train import data


def heldout_pngs(samples: list[data.Sample]) -> list[bytes]:
    out = []
    for s in samples:
        buf = io.BytesIO()
        data.render(s).save(buf, "PNG", optimize=True)
        out.append(buf.getvalue())
    return out


def write_fixture(
    path: Path,
    model_id: str,
    labels: list[str],
    templates: list[str],
    python_top1: dict[str, float],
    items: list[tuple[str, bytes]],
) -> None:
    fixture = {
        "model": model_id,
        "labels": labels,
        "templates": templates,
        "python_top1": python_top1,
        "items": [
            {"label": label, "media_type": "image/png", "data": base64.b64encode(png).decode("ascii")}
            for label, png in items
        ],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(fixture, separators=(",", ":")) + "\n")

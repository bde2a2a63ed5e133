"""Zero-shot top-1 on held-out (colour, shape) combinations with template ensembles, and retrieval recall@K.

Usage (from scripts/):  ../.venv/bin/python -m edgeclip_train.evaluate --checkpoint ../runs/shapes-clip-s   (a run dir)
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from tokenizers import Tokenizer

from . import data
from .preprocess import ImagePreprocess, normalize, resize_and_crop
from .tokenizer import encode_ids

ZERO_SHOT_TEMPLATES: tuple[str, ...] = (
    "a photo of a {}.",
    "a {} on a plain background.",
    "an image of a {}.",
    "there is a {}.",
)
HELDOUT_EVAL_IMAGES = 308  # 22 per held-out combination; also the images of the service's held-out fixture
RETRIEVAL_PAIRS = 500

Embed = Callable[[np.ndarray], np.ndarray]


def heldout_eval_samples(seed: int) -> list[data.Sample]:
    return data.heldout_samples(HELDOUT_EVAL_IMAGES, seed + 1000)


def zero_shot_classifier(
    embed_text: Embed, tok: Tokenizer, labels: Sequence[str], templates: Sequence[str], context_length: int, pad_id: int
) -> np.ndarray:
    """[L, D]: per label, the mean of its normalised template embeddings, renormalised (open_clip's recipe)."""
    rows = []
    for label in labels:
        ids = encode_ids(tok, [t.format(label) for t in templates], context_length, pad_id)
        mean = embed_text(ids).mean(axis=0)
        rows.append(mean / max(float(np.linalg.norm(mean)), 1e-12))
    return np.stack(rows).astype(np.float32)


def top1(image_emb: np.ndarray, classifier: np.ndarray, targets: Sequence[int]) -> float:
    pred = (image_emb @ classifier.T).argmax(axis=1)
    return float((pred == np.asarray(targets)).mean())


def recall_at_k(
    query: np.ndarray,
    keys: np.ndarray,
    query_ids: Sequence[object],
    key_ids: Sequence[object],
    ks: Sequence[int] = (1, 5),
) -> dict[int, float]:
    """A hit when any of the top-k keys has the query's attribute tuple (identical captions count as equal)."""
    order = np.argsort(-(query @ keys.T), axis=1, kind="stable")
    out = {}
    for k in ks:
        hits = [any(key_ids[j] == query_ids[i] for j in order[i, :k]) for i in range(len(query_ids))]
        out[k] = float(np.mean(hits))
    return out


def torch_embedders(model: torch.nn.Module) -> tuple[Embed, Embed]:
    device = next(model.parameters()).device

    @torch.no_grad()
    def image(pix: np.ndarray) -> np.ndarray:
        return torch.cat(
            [model.image(torch.from_numpy(pix[i : i + 256]).to(device)).cpu() for i in range(0, len(pix), 256)]
        ).numpy()

    @torch.no_grad()
    def text(ids: np.ndarray) -> np.ndarray:
        return model.text(torch.from_numpy(ids).to(device)).cpu().numpy()

    return image, text


def zero_shot_metrics(
    embed_image: Embed,
    embed_text: Embed,
    tok: Tokenizer,
    pixels: np.ndarray,
    sample_labels: Sequence[str],
    context_length: int,
    pad_id: int,
) -> dict[str, float]:
    """Held-out images classified among the held-out labels (primary) and among all colour x shape labels."""
    img = embed_image(pixels)
    out = {}
    for name, label_set in (
        ("heldout_labels", data.labels(data.HELDOUT_COMBOS)),
        ("all_labels", [f"{c} {s}" for c in data.COLOURS for s in data.SHAPES]),
    ):
        clf = zero_shot_classifier(embed_text, tok, label_set, ZERO_SHOT_TEMPLATES, context_length, pad_id)
        out[name] = top1(img, clf, [label_set.index(lbl) for lbl in sample_labels])
    return out


def evaluate(model: torch.nn.Module, tok: Tokenizer, seed: int, pre: ImagePreprocess) -> dict[str, object]:
    cfg = model.cfg
    embed_image, embed_text = torch_embedders(model)
    held = heldout_eval_samples(seed)
    pix = normalize(np.stack([resize_and_crop(data.render(s), pre) for s in held]), pre)
    zs = zero_shot_metrics(embed_image, embed_text, tok, pix, [s.label for s in held], cfg.context_length, cfg.pad_id)

    every = [(c, s) for c in data.COLOURS for s in data.SHAPES]
    pairs = data.generate(RETRIEVAL_PAIRS, seed + 2000, every)
    caps = data.captions(pairs, seed + 2001, p_size=1.0, p_pos=1.0)
    img = embed_image(normalize(np.stack([resize_and_crop(data.render(s), pre) for s in pairs]), pre))
    txt = embed_text(encode_ids(tok, caps, cfg.context_length, cfg.pad_id))
    keys = [(s.colour, s.shape, s.size, s.cell) for s in pairs]
    i2t, t2i = recall_at_k(img, txt, keys, keys), recall_at_k(txt, img, keys, keys)
    return {
        "zero_shot_top1": {"torch": zs["heldout_labels"]},
        "zero_shot_top1_all_labels": {"torch": zs["all_labels"]},
        "recall": {
            "image_to_text@1": i2t[1],
            "image_to_text@5": i2t[5],
            "text_to_image@1": t2i[1],
            "text_to_image@5": t2i[5],
        },
    }


def main() -> None:
    from .checkpoint import load_checkpoint, preprocess_of

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", type=Path, default=Path("../runs/shapes-clip-s"), help="run dir or step file")
    args = ap.parse_args()
    model, tok, run = load_checkpoint(args.checkpoint)
    print(json.dumps(evaluate(model, tok, run["config"]["seed"], preprocess_of(run)), indent=2))


if __name__ == "__main__":
    main()

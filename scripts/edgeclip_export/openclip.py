"""open_clip architectures -> a model package (models/FORMAT.md), so users can bring real CLIP weights.

Usage (from scripts/; nothing is downloaded: random weights, or a checkpoint file the user has):
  ../.venv/bin/python -m edgeclip_export.openclip --arch ViT-B-32 --out ../.cache/models/openclip-vit-b-32
  ../.venv/bin/python -m edgeclip_export.openclip --arch ViT-B-32 --checkpoint my_clip.pt --out ../models/my-clip

Each tower is encode_image / encode_text followed by L2 normalisation. open_clip's text towers pool at the
argmax token (the end-of-text id, the largest in the vocabulary), pad with 0 and attend causally, so padding
never reaches the pooled token. The tokenizer.json is CLIP's BPE rebuilt from the vocabulary file that ships
inside open_clip (bpe_simple_vocab_16e6.txt.gz); tests/test_openclip.py checks its ids against open_clip's.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
from torch import nn

from edgeclip_train.preprocess import ImagePreprocess, pixel_values_from_bytes

from .onnx_export import export_tower
from .package import FORMAT, f32_list, file_entry, golden_image_files, write_manifest
from .quantize import SCHEMES, QuantScheme, quantize_tower
from .runtime import OnnxTower, parity

SOT, EOT = "<start_of_text>", "<end_of_text>"
# open_clip's SimpleTokenizer pattern (applied after lower-casing, so IGNORECASE does not matter).
CLIP_PATTERN = r"""<start_of_text>|<end_of_text>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""
GOLDEN_TEXTS = (
    "a photo of a cat",
    "A DIAGRAM, of two dogs; playing (in) the snow!!! 100% sure?",
    "naïve café — crème brûlée, 東京 and emoji 🙂👍",
    "don’t “quote” me &amp; tom's 3.14159 ﬁne",
    "全角：ＡＢＣ，１２３！",
    "   extra   spaces\tand\nnewlines   ",
    "a very long caption " + " ".join(f"word{i} and more" for i in range(40)),  # > 77 tokens: truncated
)
LIGATURES = [
    ("\ufb00", "ff"),
    ("\ufb01", "fi"),
    ("\ufb02", "fl"),
    ("\ufb03", "ffi"),
    ("\ufb04", "ffl"),
    ("\ufb05", "ſt"),
    ("\ufb06", "st"),
]
# The dynamic int8 scheme for transformer towers: every MatMul with int8 weights (U8S8, fast in wasm), and the
# text token embedding (Gather), which otherwise stays fp32 and is ~100 MB of ViT-B-32's text tower.
# Convolutional image towers (MobileCLIP's FastViT/MCi) use quantize.py's image scheme instead: uint8 weights,
# Conv included (int8-weight ConvInteger is 5.6x slower than fp32 in wasm, DESIGN.md).
OPENCLIP_INT8 = {
    "image": QuantScheme(weight_type="int8", op_types=("MatMul",)),
    "text": QuantScheme(weight_type="int8", op_types=("MatMul", "Gather")),
    "conv_image": SCHEMES["image"],
}


def int8_scheme(model: nn.Module, kind: str) -> QuantScheme:
    if kind == "image" and type(model.visual).__name__ != "VisionTransformer":
        return OPENCLIP_INT8["conv_image"]
    return OPENCLIP_INT8[kind]


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP's reversible byte -> printable character map (the ByteLevel alphabet, in CLIP's order)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs], strict=True))


def default_bpe_path() -> Path:
    import open_clip.tokenizer as oct

    return Path(oct.default_bpe())


def clip_tokenizer(bpe_path: Path | None = None) -> Tokenizer:
    """CLIP's BPE as a Hugging Face tokenizer, with the vocabulary built exactly as open_clip builds it.

    Normalizer: NFC, then the parts of open_clip's ftfy.fix_text + html.unescape that real captions hit:
    curly quotes to straight ones, full-width ASCII and the ideographic space to ASCII, Latin ligatures split,
    the common HTML entities unescaped; then whitespace runs to one space, strip, lower-case.
    Not reproduced: ftfy's mojibake repair, half-width katakana/hangul, rarer HTML entities.
    """
    merges_txt = gzip.open(bpe_path or default_bpe_path()).read().decode("utf-8").split("\n")
    merges = [tuple(m.split()) for m in merges_txt[1 : 49152 - 256 - 2 + 1]]
    alphabet = list(bytes_to_unicode().values())
    vocab_list = alphabet + [c + "</w>" for c in alphabet] + ["".join(m) for m in merges] + [SOT, EOT]
    vocab = {t: i for i, t in enumerate(vocab_list)}
    tok = Tokenizer(
        models.BPE(
            vocab=vocab,
            merges=[(a, b) for a, b in merges],
            unk_token=EOT,
            continuing_subword_prefix="",
            end_of_word_suffix="</w>",
            fuse_unk=False,
        )
    )
    entities = [("&quot;", '"'), ("&#39;", "'"), ("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&")]
    tok.normalizer = normalizers.Sequence(
        [
            normalizers.NFC(),
            normalizers.Replace(Regex("[\u02bc\u2018-\u201b]"), "'"),  # ftfy uncurl_quotes
            normalizers.Replace(Regex("[\u201c-\u201f]"), '"'),
            *[normalizers.Replace(chr(c), chr(c - 0xFEE0)) for c in range(0xFF01, 0xFF5F)],  # ftfy character width
            normalizers.Replace("\u3000", " "),
            *[normalizers.Replace(a, b) for a, b in LIGATURES],
            *[normalizers.Replace(a, b) for a, b in entities + entities[-1:]],  # html.unescape, twice for &amp;
            normalizers.Replace(Regex(r"\s+"), " "),
            normalizers.Strip(),
            normalizers.Lowercase(),
        ]
    )
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(CLIP_PATTERN), behavior="removed", invert=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(
        [AddedToken(SOT, special=True, normalized=False), AddedToken(EOT, special=True, normalized=False)]
    )
    tok.post_processor = processors.TemplateProcessing(
        single=f"{SOT} $A {EOT}", pair=f"{SOT} $A {EOT} $B {EOT}", special_tokens=[(SOT, vocab[SOT]), (EOT, vocab[EOT])]
    )
    return tok


def encode_keep_eos(tok: Tokenizer, texts: list[str], context_length: int, pad_id: int = 0) -> np.ndarray:
    """FORMAT.md's "right_keep_eos": the first context_length - 1 ids, then the encoding's last id (its end token)."""
    out = np.full((len(texts), context_length), pad_id, dtype=np.int64)
    for row, enc in enumerate(tok.encode_batch(texts)):
        ids = enc.ids if len(enc.ids) <= context_length else enc.ids[: context_length - 1] + enc.ids[-1:]
        out[row, : len(ids)] = ids
    return out


class ImageTower(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.model.encode_image(pixel_values), dim=-1)


class TextTower(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.model.encode_text(input_ids), dim=-1)


@dataclass
class OpenClipModel:
    arch: str
    model: nn.Module
    pre: ImagePreprocess
    context_length: int
    embed_dim: int
    logit_scale: float
    logit_bias: float | None


def load_openclip(
    arch: str, checkpoint: Path | None = None, seed: int = 0, overrides: dict[str, Any] | None = None
) -> OpenClipModel:
    """Random weights (seeded) or a local checkpoint; never a download. `overrides` replace model config
    entries (open_clip's model_kwargs, e.g. a smaller vision_cfg for tests)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import open_clip

    if checkpoint is not None and not checkpoint.is_file():
        raise SystemExit(f"checkpoint {checkpoint} is not a file")
    torch.manual_seed(seed)
    model = open_clip.create_model(
        arch, pretrained=str(checkpoint) if checkpoint else None, device="cpu", **(overrides or {})
    )
    model = model.eval()
    # nn.MultiheadAttention's fused inference path (_native_multi_head_attention) has no ONNX export.
    torch.backends.mha.set_fastpath_enabled(False)
    cfg = model.visual.preprocess_cfg
    h, w = cfg["size"] if isinstance(cfg["size"], tuple | list) else (cfg["size"], cfg["size"])
    if cfg.get("resize_mode", "shortest") != "shortest" or cfg.get("interpolation", "bicubic") != "bicubic":
        raise SystemExit(f"{arch}: preprocessing {cfg} is not expressible in FORMAT.md (shortest-edge bicubic only)")
    # CLIP keeps the text tower's pooling on the model; CustomTextCLIP (MobileCLIP, SigLIP) on model.text.
    pool = getattr(model, "text_pool_type", None) or getattr(getattr(model, "text", None), "pool_type", None)
    if pool != "argmax":
        raise SystemExit(f"{arch}: text pooling {pool!r} is not supported (argmax at the end token only)")
    pre = ImagePreprocess(
        shortest_edge=min(h, w), crop_height=h, crop_width=w, mean=tuple(cfg["mean"]), std=tuple(cfg["std"])
    )
    with torch.no_grad():
        dim = int(model.encode_text(torch.zeros(1, model.context_length, dtype=torch.long)).shape[-1])
    bias = getattr(model, "logit_bias", None)
    return OpenClipModel(
        arch=arch,
        model=model,
        pre=pre,
        context_length=int(model.context_length),
        embed_dim=dim,
        logit_scale=float(model.logit_scale.exp().item()),
        logit_bias=None if bias is None else float(bias.item()),
    )


def golden_inputs(oc: OpenClipModel, tok: Tokenizer) -> tuple[np.ndarray, list[tuple[str, str, bytes]], np.ndarray]:
    ids = encode_keep_eos(tok, list(GOLDEN_TEXTS), oc.context_length)
    files = golden_image_files()
    pix = np.stack([pixel_values_from_bytes(blob, oc.pre) for _, _, blob in files])
    return ids, files, pix


def export_openclip(
    arch: str,
    out_dir: Path,
    model_id: str,
    checkpoint: Path | None = None,
    seed: int = 0,
    quantize: bool = True,
    overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    import base64

    t0 = time.time()
    oc = load_openclip(arch, checkpoint, seed, overrides)
    out_dir.mkdir(parents=True, exist_ok=True)
    tok = clip_tokenizer()
    tok.save(str(out_dir / "tokenizer.json"))
    ids, files, pix = golden_inputs(oc, tok)
    with torch.no_grad():
        text_emb = TextTower(oc.model)(torch.from_numpy(ids)).numpy()
        image_emb = np.concatenate([ImageTower(oc.model)(torch.from_numpy(p[None])).numpy() for p in pix])

    dtypes = ["fp32", "int8"] if quantize else ["fp32"]
    quantization: dict[str, Any] = {"int8": {}} if quantize else {}
    parity_report: dict[str, Any] = {d: {} for d in dtypes}
    timings: dict[str, float] = {}
    refs = {"image": (pix, image_emb), "text": (ids, text_emb)}
    for kind, tower in (("image", ImageTower(oc.model)), ("text", TextTower(oc.model))):
        t = time.time()
        fp32 = out_dir / f"{kind}_fp32.onnx"
        export_tower(tower, kind, fp32, oc.pre.crop_height, oc.context_length, example=refs[kind][0][:2])
        timings[f"export_{kind}_s"] = round(time.time() - t, 1)
        if quantize:
            t = time.time()
            quantization["int8"][kind] = quantize_tower(
                kind, fp32, out_dir / f"{kind}_int8.onnx", int8_scheme(oc.model, kind)
            )
            timings[f"quantize_{kind}_s"] = round(time.time() - t, 1)
        x, ref = refs[kind]
        for d in dtypes:
            parity_report[d][kind] = parity(ref, OnnxTower(out_dir / f"{kind}_{d}.onnx")(x))

    golden = {
        "model": model_id,
        "texts": [
            {"text": t, "input_ids": [int(i) for i in row], "embedding": f32_list(e)}
            for t, row, e in zip(GOLDEN_TEXTS, ids, text_emb, strict=True)
        ],
        "images": [
            {
                "name": name,
                "media_type": media_type,
                "data": base64.b64encode(blob).decode("ascii"),
                "pixel_values_sha": None,
                "pixel_values": f32_list(p),
                "embedding": f32_list(e),
            }
            for (name, media_type, blob), p, e in zip(files, pix, image_emb, strict=True)
        ],
    }
    (out_dir / "golden.json").write_text(json.dumps(golden, separators=(",", ":")) + "\n")

    def tower(kind: str, input_name: str, dtype: str, shape: list[Any]) -> dict[str, Any]:
        return {
            "input": {"name": input_name, "dtype": dtype, "shape": shape},
            "output": {"name": "embeddings", "dtype": "float32", "shape": ["batch", oc.embed_dim]},
            "files": {d: file_entry(out_dir / f"{kind}_{d}.onnx") for d in dtypes},
        }

    source = f"checkpoint {checkpoint.name}" if checkpoint else f"random weights (torch.manual_seed({seed}))"
    manifest = {
        "format": FORMAT,
        "id": model_id,
        "version": "1.0.0",
        "description": f"open_clip {arch}, {source}",
        "embedding_dim": oc.embed_dim,
        "default_dtype": "int8" if quantize else "fp32",
        "towers": {
            "image": tower("image", "pixel_values", "float32", ["batch", 3, oc.pre.crop_height, oc.pre.crop_width]),
            "text": tower("text", "input_ids", "int64", ["batch", oc.context_length]),
        },
        "preprocess": {
            "image": oc.pre.to_manifest(),
            "text": {
                "tokenizer": file_entry(out_dir / "tokenizer.json"),
                "context_length": oc.context_length,
                "pad_id": 0,
                "truncation": "right_keep_eos",
            },
        },
        "scoring": {"logit_scale": round(oc.logit_scale, 4), "logit_bias": oc.logit_bias},
        "zero_shot": {"templates": ["a photo of a {}."]},
        "training": {
            "source": "open_clip",
            "arch": arch,
            "weights": source,
            "open_clip_version": _version(),
            "export_fingerprint": export_fingerprint(arch, checkpoint, seed, quantize),
        },
        "parity": parity_report,
        "quantization": quantization,
    }
    write_manifest(out_dir / "manifest.json", manifest)
    timings["total_s"] = round(time.time() - t0, 1)
    manifest["_timings"] = timings
    return manifest


def export_fingerprint(arch: str, checkpoint: Path | None, seed: int, quantize: bool) -> str:
    """Changes whenever the exporter's code, the pins or the arguments change: --if-stale re-exports then."""
    import hashlib

    here = Path(__file__).parent
    h = hashlib.sha256(json.dumps([arch, str(checkpoint), seed, quantize, _version()]).encode())
    for name in ("openclip.py", "onnx_export.py", "quantize.py", "package.py", "runtime.py"):
        h.update((here / name).read_bytes())
    h.update((here.parent / "requirements.txt").read_bytes())
    return h.hexdigest()[:16]


def _version() -> str:
    import open_clip

    return str(open_clip.__version__)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", default="ViT-B-32", help="an open_clip model config name (open_clip.list_models())")
    ap.add_argument("--checkpoint", type=Path, default=None, help="open_clip state dict file; random weights if absent")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--id", default=None, help="package id (default: the --out folder name)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-int8", action="store_true", help="fp32 towers only")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--if-stale", action="store_true", help="do nothing when --out holds this exporter's output")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model_id = args.id or args.out.name
    if args.if_stale and (args.out / "manifest.json").is_file():
        have = json.loads((args.out / "manifest.json").read_text()).get("training", {}).get("export_fingerprint")
        if have == export_fingerprint(args.arch, args.checkpoint, args.seed, not args.no_int8):
            print(f"{args.out} is up to date (export fingerprint {have})")
            return
        print(f"{args.out} is stale: exporting again")
    manifest = export_openclip(args.arch, args.out, model_id, args.checkpoint, args.seed, quantize=not args.no_int8)
    summary = {
        "parity": manifest["parity"],
        "files": {p.name: p.stat().st_size for p in sorted(args.out.iterdir())},
        "timings": manifest["_timings"],
    }
    print(json.dumps(summary, indent=2))
    if (
        manifest["parity"]["fp32"]["image"]["min_cosine"] < 0.999
        or manifest["parity"]["fp32"]["text"]["min_cosine"] < 0.999
    ):
        print("fp32 ONNX does not match PyTorch (min cosine < 0.999)", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()

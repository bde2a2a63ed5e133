"""Every objective trains on tiny CPU data with a decreasing loss; the framework-specific mechanics hold."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
import torch

from edgeclip_train.augment import AugmentConfig, make_views
from edgeclip_train.encoders import EncoderConfig, HeadConfig, ImageEmbedder, build_image_embedder
from edgeclip_train.models import CLIPModel, ModelConfig, TextTower
from edgeclip_train.objective import Batch
from edgeclip_train.objectives import OBJECTIVES, build_objective, build_objective_from_config

SIZE, CLASSES, POOL = 16, 4, 32
CNN = EncoderConfig(image_size=SIZE, channels=(8, 16), reduce=8)
VIT = EncoderConfig(kind="vit", image_size=SIZE, patch=4, width=32, depth=1, heads=2)
HEAD = HeadConfig(hidden=32, out=16)
TEXT = ModelConfig(
    vocab_size=12, context_length=3, text_width=16, text_layers=1, text_heads=2, proj_hidden=32, embed_dim=16
)
AUG = AugmentConfig(
    crop_scale=(0.6, 1.0), jitter_p=0.5, brightness=0.2, contrast=0.2, saturation=0.2, hue=0.0, gray_p=0.0
)
OPTIONS: dict[str, dict[str, object]] = {
    "moco": {"queue_size": 64, "momentum": 0.9},
    "byol": {"decay": 0.9, "predictor_hidden": 32},
}


def _pool() -> tuple[torch.Tensor, torch.Tensor]:
    """POOL uint8 images: class c is a coloured square in quadrant c on a noisy background."""
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(POOL) % CLASSES
    imgs = torch.randint(0, 60, (POOL, 3, SIZE, SIZE), generator=g, dtype=torch.uint8)
    colours = torch.tensor([[250, 40, 40], [40, 250, 40], [40, 40, 250], [250, 250, 40]], dtype=torch.uint8)
    for i, c in enumerate(labels.tolist()):
        r, q = (c // 2) * 8, (c % 2) * 8
        imgs[i, :, r : r + 8, q : q + 8] = colours[c][:, None, None]
    return imgs, labels


def _batches(seed: int, batch_size: int = 16) -> Callable[[], Batch]:
    imgs, labels = _pool()
    g = torch.Generator().manual_seed(seed)

    def next_batch() -> Batch:
        idx = torch.randperm(POOL, generator=g)[:batch_size]
        x = imgs[idx]
        ids = torch.stack([labels[idx] + 1, labels[idx] + 5, torch.zeros_like(idx)], 1)  # "<colour> <place>", pad
        return {
            "images": (x.float() / 255 - 0.5) / 0.5,
            "views": make_views(x, AUG, 2, g),
            "input_ids": ids,
            "labels": labels[idx],
        }

    return next_batch


def _train(name: str, encoder: EncoderConfig = CNN, steps: int = 25, lr: float = 3e-3) -> list[float]:
    torch.manual_seed(0)
    obj = build_objective(name, encoder, HEAD, TEXT, **OPTIONS.get(name, {}))
    opt = torch.optim.Adam(obj.parameters(), lr=lr)
    next_batch, losses = _batches(1), []
    obj.train()
    for _ in range(steps):
        loss = obj.loss(next_batch())
        opt.zero_grad()
        loss.backward()
        opt.step()
        obj.after_step()
        losses.append(loss.item())
    return losses


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


@pytest.mark.parametrize("name", sorted(OBJECTIVES))
def test_every_objective_trains_with_decreasing_loss(name: str) -> None:
    losses = _train(name)
    assert all(math.isfinite(v) for v in losses)
    assert np.mean(losses[-5:]) < np.mean(losses[:5]), losses


def test_vit_encoder_trains_with_simclr() -> None:
    losses = _train("simclr", VIT)
    assert np.mean(losses[-5:]) < np.mean(losses[:5]), losses


def test_objective_shapes_and_embeddings() -> None:
    batch = _batches(2)()
    for name in sorted(OBJECTIVES):
        obj = build_objective(name, CNN, HEAD, TEXT, **OPTIONS.get(name, {})).eval()
        assert obj.requires <= set(batch), name
        emb = obj.embed_images(batch["images"])
        assert emb.shape == (16, HEAD.out) and torch.allclose(emb.norm(dim=1), torch.ones(16), atol=1e-5)
        assert obj.image_features(batch["images"]).shape == (16, 8 * 4 * 4)
        texts = obj.embed_texts(batch["input_ids"])
        assert (texts is None) == (name not in ("clip", "siglip")), name


def test_build_objective_errors_name_the_choices() -> None:
    with pytest.raises(
        ValueError, match="known: \\['byol', 'clip', 'moco', 'siglip', 'simclr', 'supcon', 'triplet'\\]"
    ):
        build_objective("dino")
    with pytest.raises(ValueError, match="no option\\(s\\) \\['queue'\\]; known: .*'queue_size'"):
        build_objective("moco", CNN, HEAD, queue=10)
    with pytest.raises(ValueError, match="needs a text tower"):
        build_objective("clip", CNN, HEAD)
    with pytest.raises(ValueError, match="unknown image encoder kind 'resnet'"):
        build_objective("simclr", EncoderConfig(kind="resnet"))


def test_bad_batches_raise_clear_errors() -> None:
    obj = build_objective("simclr", CNN, HEAD)
    with pytest.raises(ValueError, match="needs batch\\['views'\\]"):
        obj.loss({"images": torch.zeros(2, 3, SIZE, SIZE)})
    with pytest.raises(ValueError, match="views \\[V>=2, B, 3, H, W\\], got \\(1, 2, 3, 16, 16\\)"):
        obj.loss({"views": torch.zeros(1, 2, 3, SIZE, SIZE)})
    with pytest.raises(ValueError, match="labels \\[B=2\\]"):
        build_objective("supcon", CNN, HEAD).loss({"views": torch.zeros(2, 2, 3, SIZE, SIZE), "labels": torch.zeros(3)})


def test_byol_target_is_not_optimised_and_follows_the_online_tower() -> None:
    obj = build_objective("byol", CNN, HEAD, decay=0.9, predictor_hidden=32)
    trainable = {id(p) for p in obj.parameters()}
    target = dict(obj.target.target.named_buffers())
    assert not any(id(t) in trainable for t in target.values())
    assert not any(n.startswith("target.") for n, _ in obj.named_parameters())
    assert any(k.startswith("target.target.") for k in obj.state_dict())  # saved, so resume is exact
    name = "head.net.0.weight"
    before = target[name].clone()
    opt = torch.optim.SGD(obj.parameters(), lr=0.5)
    obj.loss(_batches(3)()).backward()
    opt.step()
    assert torch.equal(target[name], before)  # the optimizer never touches the target
    obj.after_step()
    online = dict(obj.image.named_parameters())[name].detach()
    assert not torch.equal(target[name], before)
    assert torch.allclose(target[name], 0.9 * before + 0.1 * online, atol=1e-6)


def test_moco_queue_advances_with_detached_keys() -> None:
    obj = build_objective("moco", CNN, HEAD, queue_size=40, momentum=0.9)
    assert "queue" in dict(obj.named_buffers()) and not any(n.startswith("key.") for n, _ in obj.named_parameters())
    key_before = dict(obj.key.target.named_buffers())["head.net.2.weight"].clone()
    opt = torch.optim.SGD(obj.parameters(), lr=0.5)
    batch = _batches(4)()
    obj.train()
    loss = obj.loss(batch)
    keys = torch.cat(obj._pending)
    assert not keys.requires_grad and keys.shape == (32, HEAD.out)  # symmetric: both views' keys, B=16 each
    loss.backward()
    opt.step()
    obj.after_step()
    assert int(obj.queue_ptr) == 32 and torch.allclose(obj.queue[:32], keys)
    assert not torch.equal(dict(obj.key.target.named_buffers())["head.net.2.weight"], key_before)
    obj.loss(batch)
    obj.after_step()
    assert int(obj.queue_ptr) == (32 + 32) % 40  # ring buffer wraps


def test_clip_state_dict_is_the_shipped_clip_models() -> None:
    cfg = ModelConfig(vocab_size=12)
    obj = build_objective("clip", text=cfg)
    model = CLIPModel(cfg)
    ours, theirs = obj.state_dict(), model.state_dict()
    assert {k: v.shape for k, v in ours.items()} == {k: v.shape for k, v in theirs.items()}
    model.load_state_dict(ours)  # a checkpoint of the objective loads into the exported model class


def test_locked_text_tower_stays_frozen_and_in_eval_mode() -> None:
    torch.manual_seed(0)
    pretrained = TextTower(TEXT)
    obj = build_objective("clip", CNN, HEAD, text_tower=pretrained, lock=("text",))
    assert not any(n.startswith("text.") for n, _ in obj.named_parameters())
    obj.train()
    assert obj.image.training and not obj.text.training
    frozen = {k: v.clone() for k, v in obj.text.state_dict().items()}
    opt = torch.optim.AdamW(obj.parameters(), lr=1e-2, weight_decay=0.1)
    obj.loss(_batches(5)()).backward()
    opt.step()
    assert all(torch.equal(v, obj.text.state_dict()[k]) for k, v in frozen.items())


def test_tiny_vit_exports_to_onnx_and_matches_torch(tmp_path) -> None:  # noqa: ANN001
    import onnxruntime as ort

    torch.manual_seed(0)
    tower: ImageEmbedder = build_image_embedder(VIT, HEAD).eval()
    x = torch.randn(3, 3, SIZE, SIZE)
    path = tmp_path / "vit.onnx"
    torch.onnx.export(
        tower,
        (x,),
        str(path),
        dynamo=False,
        opset_version=17,
        input_names=["pixel_values"],
        output_names=["image_embeds"],
        dynamic_axes={"pixel_values": {0: "batch"}, "image_embeds": {0: "batch"}},
    )
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x2 = torch.randn(5, 3, SIZE, SIZE)
    (out,) = session.run(None, {"pixel_values": x2.numpy()})
    with torch.no_grad():
        ref = tower(x2)
    cos = torch.nn.functional.cosine_similarity(torch.from_numpy(out), ref, dim=1)
    assert cos.min() >= 0.9999


def _rank_grads(rank: int, world_size: int, init_file: str, out_dir: str, names: list[str]) -> None:
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world_size)
    torch.set_num_threads(1)
    for name in names:
        torch.save(_global_batch_grads(name, rank, world_size), f"{out_dir}/{name}-rank{rank}.pt")
    dist.destroy_process_group()


def _global_batch_grads(name: str, rank: int = 0, world_size: int = 1) -> dict[str, torch.Tensor]:
    """Gradients of this rank's share of a fixed 16-image batch (eval mode: BN uses running stats everywhere)."""
    torch.manual_seed(0)
    obj = build_objective(name, CNN, HEAD, TEXT).eval()
    batch = _batches(6)()
    n = 16 // world_size
    part = slice(rank * n, (rank + 1) * n)
    local: Batch = {k: (v[:, part] if k == "views" else v[part]) for k, v in batch.items()}  # type: ignore[misc]
    obj.loss(local).backward()
    return {k: p.grad.clone() for k, p in obj.named_parameters() if p.grad is not None}


def test_two_gloo_ranks_reproduce_the_single_process_gradient(tmp_path) -> None:  # noqa: ANN001
    """CLIP/SigLIP/SupCon gather across 2 real gloo processes: DDP's gradient average == the 1-process gradient."""
    import torch.multiprocessing as mp

    names = ["clip", "siglip", "supcon"]
    mp.spawn(_rank_grads, args=(2, str(tmp_path / "init"), str(tmp_path), names), nprocs=2, join=True)
    for name in names:
        ranks = [torch.load(tmp_path / f"{name}-rank{r}.pt") for r in range(2)]
        expected = _global_batch_grads(name)
        assert set(expected) == set(ranks[0])
        for k, g in expected.items():
            ddp_mean = 0.5 * (ranks[0][k] + ranks[1][k])  # what DDP's all-reduce average gives every rank
            assert torch.allclose(ddp_mean, g, atol=1e-5, rtol=1e-4), (name, k)


def test_supcon_without_labels_trains_as_simclr() -> None:
    batch = _batches(7)()
    torch.manual_seed(0)
    supcon = build_objective("supcon", CNN, HEAD).eval()
    torch.manual_seed(0)
    simclr = build_objective("simclr", CNN, HEAD).eval()
    views_only: Batch = {"views": batch["views"]}
    assert torch.allclose(supcon.loss(views_only), simclr.loss(views_only))


def test_build_from_run_config_with_a_pretrained_locked_tower(tmp_path) -> None:  # noqa: ANN001
    from edgeclip_train.config import RunConfig

    cfg = RunConfig(objective="clip", objective_args={"init_logit_scale": 2.0})
    cfg.encoder.image_size, cfg.encoder.vocab_size, cfg.encoder.lock_text = SIZE, 12, True
    first = build_objective_from_config(cfg)
    torch.save({"state_dict": first.state_dict()}, tmp_path / "clip.pt")
    cfg.encoder.pretrained_text = str(tmp_path / "clip.pt")
    obj = build_objective_from_config(cfg)
    assert torch.equal(
        obj.text.state_dict()["token_embedding.weight"], first.text.state_dict()["token_embedding.weight"]
    )
    assert not any(n.startswith("text.") for n, _ in obj.named_parameters())
    assert float(obj.logit_scale) == 2.0
    vit = RunConfig(objective="byol")
    vit.encoder.image, vit.encoder.image_size, vit.encoder.patch_size = "vit", SIZE, 4
    vit.encoder.image_width, vit.encoder.image_layers, vit.encoder.image_heads = 32, 1, 2
    assert build_objective_from_config(vit).embed_images(torch.zeros(2, 3, SIZE, SIZE)).shape == (2, 64)

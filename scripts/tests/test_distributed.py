"""Two gloo processes on the CPU: the cross-rank gather, its gradients, and a DDP trainer step against one process
on the global batch. The ranks join through torchrun's environment variables (init_from_env)."""

from __future__ import annotations

import os
import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from trainer_fixtures import PairData, TinyClip, gather_global, info_nce, one_thread, tiny_config

from edgeclip_train.checkpoint import checkpoint_path, load_train_checkpoint
from edgeclip_train.distributed import DistEnv, gather_keep_local_grad, init_from_env, shutdown
from edgeclip_train.trainer import Trainer, seed_everything

WORLD = 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank_input(rank: int) -> torch.Tensor:
    return torch.arange(6.0).reshape(3, 2) / 5 + rank


def _towers() -> tuple[nn.Linear, nn.Linear]:
    torch.manual_seed(0)
    return nn.Linear(2, 4), nn.Linear(2, 4)


def _gather_loss(x: torch.Tensor, towers: tuple[nn.Linear, nn.Linear]) -> torch.Tensor:
    a = torch.nn.functional.normalize(gather_global(towers[0](x)), dim=-1)
    b = torch.nn.functional.normalize(gather_global(towers[1](x)), dim=-1)
    return info_nce(a, b, torch.tensor(5.0))


def _train(out_dir: str, env: DistEnv) -> tuple[list[float], dict[str, torch.Tensor]]:
    cfg = tiny_config(out_dir, steps=2, grad_accum_steps=2, ckpt_every=2)
    seed_everything(cfg.seed)
    trainer = Trainer(cfg, TinyClip(dropout=0.0), PairData(), env=env)
    losses = [r["loss"] for r in trainer.fit()]
    return losses, {k: v.detach().clone() for k, v in trainer.objective.state_dict().items()}


def _worker(rank: int, port: int, out: str) -> None:
    os.environ.update(
        RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(WORLD), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port)
    )
    torch.set_num_threads(1)
    env = init_from_env(device="cpu")
    assert (env.rank, env.world_size, env.device.type) == (rank, WORLD, "cpu")
    res: dict[str, object] = {}

    x = _rank_input(rank).requires_grad_(True)
    res["gathered"] = gather_keep_local_grad(x).detach()

    towers = _towers()
    _gather_loss(x, towers).backward()
    res["x_grad"] = x.grad.clone()
    for i, t in enumerate(towers):  # what DDP does to parameter gradients: the mean over ranks
        g = t.weight.grad.clone()
        dist.all_reduce(g)
        res[f"w{i}_grad"] = g / WORLD

    res["losses"], res["state"] = _train(os.path.join(out, "ddp"), env)
    torch.save(res, os.path.join(out, f"rank{rank}.pt"))
    shutdown()


def test_two_gloo_ranks_gather_grads_and_ddp_step(tmp_path):
    mp.spawn(_worker, args=(_free_port(), str(tmp_path)), nprocs=WORLD, join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in range(WORLD)]

    # (a) every rank holds the concatenation of all ranks' inputs, rank-major
    full = torch.cat([_rank_input(r) for r in range(WORLD)])
    for res in ranks:
        assert torch.equal(res["gathered"], full)

    # (b) single process on the global batch: a rank's input gradient is its slice of the global one (x world size
    # from scale_grad_by_world), and the rank-mean of parameter gradients is the global gradient
    with one_thread():
        xf = full.clone().requires_grad_(True)
        towers = _towers()
        _gather_loss(xf, towers).backward()
    for r, res in enumerate(ranks):
        torch.testing.assert_close(res["x_grad"], WORLD * xf.grad[3 * r : 3 * (r + 1)], rtol=1e-5, atol=1e-7)
        for i, t in enumerate(towers):
            torch.testing.assert_close(res[f"w{i}_grad"], t.weight.grad, rtol=1e-5, atol=1e-7)

    # (c) two DDP trainer steps (2 micro-batches each, no_sync on the first) = one process on the global batch
    with one_thread():
        losses, state = _train(str(tmp_path / "single"), DistEnv(0, 1, 0, torch.device("cpu")))
    for res in ranks:
        torch.testing.assert_close(res["losses"], losses, rtol=1e-5, atol=1e-6)
        for k, v in state.items():
            torch.testing.assert_close(res["state"][k], v, rtol=1e-5, atol=1e-6, msg=k)
    ck = load_train_checkpoint(checkpoint_path(tmp_path / "ddp", 2))
    assert len(ck.rng) == WORLD and ck.trainer["world_size"] == WORLD
    assert not torch.equal(ck.rng[0]["torch"], ck.rng[1]["torch"])  # each rank's own stream is kept

r"""Data-parallel training of the course's dot-product network with PyTorch DistributedDataParallel (CPU).

Each of ``W`` processes holds a full copy of the model. At every step the same *global* batch
:math:`B` (the same rows in every process: the order is a permutation drawn from ``seed`` and the
epoch, identical everywhere) is cut into ``W`` slices :math:`B_r`; process :math:`r` computes the
gradient of its share of the batch loss,

.. math::
    L_r = \frac{W}{|B|} \sum_{(u,i) \in B_r} (\hat r_{ui} - r_{ui})^2 ,
    \qquad \frac{1}{W} \sum_{r=1}^{W} \nabla L_r = \nabla \frac{1}{|B|} \sum_{(u,i) \in B} (\hat r_{ui} - r_{ui})^2 ,

and DistributedDataParallel averages the ``W`` gradients with an all-reduce (gloo backend on
CPU) during the backward pass, so every process applies the same update as one process that
sees the whole batch. The two differ only in the order in which floating-point gradient terms are
summed (per slice, then across processes), i.e. by rounding; :func:`train_dot_product` returns the
loss curve and the final weights so that this can be measured (``benchmarks/bench_ddp.py``).

The processes are started from Python with ``torch.multiprocessing.spawn`` (``torchrun`` does the
same from the command line) and meet through a file in a temporary folder (``file://`` init:
no network port). Each process runs ``torch_threads`` threads (1 by default: two processes on the
course's two cores), and writes its own output to a log file, not to the notebook.

Model: :class:`course_lib.models.torch_models.networks.DotProductNet` (biases, no output bound),
trained on the inner indices of :meth:`course_lib.interactions.Interactions.from_ratings`.

Reference: S. Li et al., "PyTorch Distributed: Experiences on Accelerating Data Parallel
Training", VLDB 2020; PyTorch's DistributedDataParallel documentation.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..validation import check_finite_number, check_positive_int

__all__ = ["DDPRun", "batch_order", "train_dot_product"]


@dataclass(frozen=True)
class DDPRun:
    """The result of :func:`train_dot_product`.

    Attributes
    ----------
    losses : the mean squared error of each global batch, in training order, shape ``(n_steps,)``
        (all-reduced over the processes, i.e. the loss of the whole batch).
    weights : the final parameters, ``{name: float64 array}`` (rank 0's; all ranks hold the same).
    n_processes : ``W``.
    train_seconds : wall-clock seconds of the training loop on rank 0 (after every process is up).
    total_seconds : wall-clock seconds of the whole call, process start-up included.
    n_users, n_items : the model's table sizes.
    """

    losses: np.ndarray
    weights: dict[str, np.ndarray]
    n_processes: int
    train_seconds: float
    total_seconds: float
    n_users: int
    n_items: int


def batch_order(n_ratings: int, global_batch: int, epoch: int, seed: int) -> list[np.ndarray]:
    """The global batches of one epoch: a permutation drawn from ``(seed, epoch)``, cut into batches.

    Every process computes the same list; the last batch may be smaller than ``global_batch``.
    """
    perm = np.random.default_rng([seed, epoch]).permutation(n_ratings)
    return [perm[start:start + global_batch] for start in range(0, n_ratings, global_batch)]


def _worker(rank: int, world: int, folder: str, config: dict, arrays: dict) -> None:
    """One process: join the group, train with DDP on its slice of each global batch, rank 0 saves."""
    if config["quiet"]:  # this process's own fd 1 and 2 go to a log, not to the notebook
        log = os.open(os.path.join(folder, f"rank{rank}.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        os.dup2(log, 1)
        os.dup2(log, 2)
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    from ..models.torch_models.networks import DotProductNet

    torch.set_num_threads(config["torch_threads"])
    dist.init_process_group("gloo", init_method=f"file://{folder}/rendezvous", rank=rank, world_size=world)
    torch.manual_seed(config["seed"])  # same initial weights everywhere (DDP also broadcasts rank 0's)
    net = DotProductNet(config["n_users"], config["n_items"], config["n_factors"], biases=True, y_range=None)
    model = DistributedDataParallel(net) if world > 1 else net
    optimiser = torch.optim.Adam(model.parameters(), lr=config["lr"])
    u, i, r = (torch.from_numpy(arrays[k]) for k in ("u", "i", "r"))
    losses = []
    dist.barrier()
    start = time.perf_counter()
    for epoch in range(config["n_epochs"]):
        for batch in batch_order(len(r), config["global_batch"], epoch, config["seed"]):
            mine = torch.from_numpy(np.array_split(batch, world)[rank])
            err = model(u[mine], i[mine]) - r[mine]
            sse = (err * err).sum()
            optimiser.zero_grad()
            (sse * (world / len(batch))).backward()  # DDP averages over the W processes: mean over the batch
            optimiser.step()
            total = sse.detach().clone()
            if world > 1:
                dist.all_reduce(total)
            losses.append(total.item() / len(batch))
    seconds = time.perf_counter() - start
    if rank == 0:
        weights = {name: p.detach().double().numpy().copy() for name, p in net.named_parameters()}
        torch.save({"losses": np.array(losses), "weights": weights, "seconds": seconds},
                   os.path.join(folder, "result.pt"))
    dist.barrier()
    dist.destroy_process_group()
    # Leave without the interpreter's teardown: gloo's C++ threads can still be alive while static
    # objects are destroyed, and a joinable std::thread destroyed then aborts the process ("terminate
    # called without an active exception", SIGABRT; seen once in CI after a complete run). Everything
    # this process had to say is in result.pt and its log, so exiting at once loses nothing.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def train_dot_product(
    train: pd.DataFrame,
    *,
    n_processes: int = 2,
    n_factors: int = 32,
    global_batch: int = 1024,
    n_epochs: int = 2,
    lr: float = 0.01,
    seed: int = 0,
    torch_threads: int = 1,
    quiet: bool = True,
) -> DDPRun:
    r"""Train ``DotProductNet`` on ``train`` (user_id, item_id, rating) with ``n_processes`` DDP processes.

    Parameters
    ----------
    n_processes : ``W``; 1 trains in one process with the same loop (the reference).
    n_factors : the embedding width :math:`f`.
    global_batch : ratings per optimiser step, summed over the processes (each gets ~``global_batch / W``).
    n_epochs, lr : passes over the data and Adam's learning rate.
    seed : the initial weights (``torch.manual_seed``) and the data order (:func:`batch_order`).
    torch_threads : threads per process.
    quiet : send the processes' own output (gloo's messages, warnings) to log files.

    Returns
    -------
    :class:`DDPRun`. Raises ``RuntimeError`` with the end of the processes' logs if one fails.
    """
    import torch.multiprocessing as mp

    from ..interactions import Interactions

    world = check_positive_int(n_processes, "n_processes")
    config = dict(n_factors=check_positive_int(n_factors, "n_factors"),
                  global_batch=check_positive_int(global_batch, "global_batch"),
                  n_epochs=check_positive_int(n_epochs, "n_epochs"),
                  lr=check_finite_number(lr, "lr", minimum=0, strict=True),
                  seed=check_positive_int(seed, "seed", minimum=0),
                  torch_threads=check_positive_int(torch_threads, "torch_threads"), quiet=bool(quiet))
    if config["global_batch"] < world:
        raise ValueError(f"global_batch={global_batch} is smaller than n_processes={world}: every process needs rows")
    data = Interactions.from_ratings(train[["user_id", "item_id", "rating"]], name="training ratings")
    config.update(n_users=data.n_users, n_items=data.n_items)
    arrays = {"u": data.u.astype(np.int64), "i": data.i.astype(np.int64), "r": data.r.astype(np.float32)}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="recsys-ddp-") as folder:
        env_before = {k: os.environ.get(k) for k in ("GLOO_SOCKET_IFNAME", "OMP_NUM_THREADS")}
        os.environ.update(GLOO_SOCKET_IFNAME=_loopback_interface(), OMP_NUM_THREADS=str(config["torch_threads"]))
        try:
            mp.spawn(_worker, args=(world, folder, config, arrays), nprocs=world, join=True)
        except Exception as exc:  # ProcessRaisedException / ProcessExitedException
            logs = "\n".join(f"--- rank {r} ---\n{_tail(Path(folder) / f'rank{r}.log')}" for r in range(world))
            raise RuntimeError(f"DDP training failed: {str(exc).strip()[-1500:]}\n{logs}") from None
        finally:
            for key, value in env_before.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        import torch

        result = torch.load(Path(folder) / "result.pt", weights_only=False)
    return DDPRun(losses=result["losses"], weights=result["weights"], n_processes=world,
                  train_seconds=result["seconds"], total_seconds=time.perf_counter() - start,
                  n_users=data.n_users, n_items=data.n_items)


def _loopback_interface() -> str:
    """The loopback network interface's name (``lo`` on Linux, ``lo0`` on macOS): gloo talks over it."""
    names = {name for _, name in getattr(__import__("socket"), "if_nameindex", lambda: [])()}
    return "lo0" if "lo0" in names and "lo" not in names else "lo"


def _tail(path: Path, n_lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n_lines:]) or "(empty)"
    except OSError:
        return "(no log)"

#!/usr/bin/python3
"""The PyTorch side of `mpirun -np N bench_fit --threads T --model cnn`:
data-parallel training with DistributedDataParallel over gloo, on the
same model, data and JSON lines as bench_torch_fit.py (imported from it).

  bench_torch_ddp.py [--ranks N] [--threads T] [--epochs E] [--model cnn]
                     [--bucket-cap-mb MB] [--config fastest|installed]

--ranks 1 is a plain process without DDP or a process group: the
baseline. With N > 1 the script spawns N rank processes itself
(torch.multiprocessing, init_method tcp://127.0.0.1:PORT, backend gloo).
Global batch 128 (--batch), split as 128/N per rank; Adam 1e-3; data in
memory; each epoch one permutation drawn from the same seed on every rank
and split DistributedSampler's way (rank r takes every N-th index from r),
so the N parts of step k make the one-process run's batch k. DDP averages
the gradients, so each step is that of one process on the global batch.

Each rank runs torch.set_num_threads(T), and before torch is imported the
script sets OPENBLAS_NUM_THREADS=T and, for --config fastest (the
default), torch's fastest environment found in docs/PERFORMANCE.md:
OMP_WAIT_POLICY=PASSIVE OPENBLAS_CORETYPE=Cooperlake (--config installed
unsets those two). The rank processes inherit it.

Rank 0 prints one JSON line per epoch: bench_torch_fit.py's keys
(train_samples_per_s counts the global 60,000 samples over the epoch's
wall time on rank 0, between barriers), plus ranks, the batch sizes and,
under DDP, its bucket settings and the comm / overlap times it sampled.
Evaluation is sharded as ctrain's evaluate under the mirrored strategy:
each rank takes its part of every global test batch and the correct counts
are summed over the ranks (all_reduce), so test_accuracy covers all
10,000 test images. peak_rss_mb is rank 0's process."""
import argparse
import json
import math
import os
import socket
import sys
import time


def parse():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--model", default="cnn")
    ap.add_argument("--batch", type=int, default=128, help="global batch")
    ap.add_argument("--bucket-cap-mb", type=float, default=25.0)
    ap.add_argument("--config", choices=("fastest", "installed"), default="fastest")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--port", type=int, default=0, help="0: a free one")
    args = ap.parse_args()
    if args.ranks < 1 or args.threads < 1 or args.batch % args.ranks:
        ap.error("--ranks and --threads must be >= 1 and divide --batch by --ranks")
    return args


def configure(args):
    """torch's environment; must run before torch is imported."""
    os.environ["OPENBLAS_NUM_THREADS"] = str(args.threads)
    if args.config == "fastest":
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
        os.environ["OPENBLAS_CORETYPE"] = "Cooperlake"
    else:
        os.environ.pop("OMP_WAIT_POLICY", None)
        os.environ.pop("OPENBLAS_CORETYPE", None)


def ddp_info(net, dist):
    """DDP's bucket settings and the timings it sampled (private API of
    torch 1.13: _get_ddp_logging_data; times in ns, rank 0's)."""
    d = net._get_ddp_logging_data()
    keys = ("bucket_cap_bytes", "bucket_sizes", "has_rebuilt_buckets", "gradient_as_bucket_view",
            "gloo_num_threads", "total_parameter_size_bytes", "avg_backward_compute_time",
            "avg_backward_comm_time", "avg_backward_compute_comm_overlap_time")
    info = {k: d[k] for k in keys if k in d}
    info["first_bucket_bytes"] = getattr(dist, "_DEFAULT_FIRST_BUCKET_BYTES", None)
    return info


def run(rank, args, port):
    import torch
    import torch.distributed as dist
    import torch.nn as nn
    import bench_torch_fit as btf

    torch.set_num_threads(args.threads)
    world = args.ranks
    ddp = world > 1
    if ddp:
        import datetime
        dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                                world_size=world, timeout=datetime.timedelta(minutes=5))

    def barrier():
        if ddp:
            dist.barrier()

    x, y, xt, yt = btf.load()
    local = args.batch // world
    for kind in args.model.split(","):
        torch.manual_seed(1)  # same start on every rank (DDP broadcasts rank 0's anyway)
        model = btf.mlp() if kind == "mlp" else btf.cnn()
        xs, xts = (x, xt) if kind == "mlp" else (x[:, None], xt[:, None])
        net = nn.parallel.DistributedDataParallel(model, bucket_cap_mb=args.bucket_cap_mb) \
            if ddp else model
        opt = torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7)
        loss_fn = nn.CrossEntropyLoss()
        n, ntest = xs.shape[0], xts.shape[0]
        # DistributedSampler(shuffle=True, drop_last=False): pad the
        # permutation to a multiple of the ranks, rank r takes r, r+N, ...
        per_rank = math.ceil(n / world)
        total = per_rank * world
        for epoch in range(args.epochs):
            net.train()
            g = torch.Generator()
            g.manual_seed(args.seed + epoch)
            perm = torch.randperm(n, generator=g)
            if total > n:
                perm = torch.cat([perm, perm[:total - n]])
            mine = perm[rank:total:world]
            barrier()
            t0 = time.perf_counter()
            for i in range(0, per_rank, local):
                idx = mine[i:i + local]
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(net(xs[idx]), y[idx])
                loss.backward()
                opt.step()
            barrier()
            train_s = time.perf_counter() - t0

            model.eval()
            barrier()
            t0 = time.perf_counter()
            correct = 0
            with torch.no_grad():
                for i in range(0, ntest, args.batch):
                    b = min(args.batch, ntest - i)
                    lo, hi = i + b * rank // world, i + b * (rank + 1) // world
                    correct += (model(xts[lo:hi]).argmax(1) == yt[lo:hi]).sum().item()
            if ddp:
                c = torch.tensor([correct], dtype=torch.int64)
                dist.all_reduce(c)
                correct = int(c.item())
            infer_s = time.perf_counter() - t0
            if rank == 0:
                rec = btf.epoch_record(kind, args.config, args.threads, epoch + 1, n, train_s,
                                       ntest, infer_s, correct)
                rec.update(ranks=world, global_batch=args.batch, rank_batch=local,
                           eval="sharded, correct counts all-reduced" if ddp else "one process",
                           ddp=ddp_info(net, dist) if ddp else None)
                print(json.dumps(rec), flush=True)
    if ddp:
        dist.destroy_process_group()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    args = parse()
    configure(args)
    if args.ranks == 1:
        run(0, args, 0)
        return
    import torch.multiprocessing as mp
    mp.spawn(run, args=(args, args.port or free_port()), nprocs=args.ranks, join=True)


if __name__ == "__main__":
    sys.exit(main())

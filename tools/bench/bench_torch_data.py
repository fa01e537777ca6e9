#!/usr/bin/python3
"""PyTorch's side of bench_data: Fashion-MNIST from the same Debian IDX files
through DataLoader(shuffle=True, batch_size=128); batches per second."""
import argparse
import gzip
import json
import time

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset


def load_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--dir", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--images", default="train-images-idx3-ubyte.gz")
    ap.add_argument("--labels", default="train-labels-idx1-ubyte.gz")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    x = torch.from_numpy(load_idx(f"{args.dir}/{args.images}").copy())
    y = torch.from_numpy(load_idx(f"{args.dir}/{args.labels}").copy())
    ds = TensorDataset(x, y)
    best = 1e30
    # num_workers=0 for one thread; with more, worker processes as users do.
    workers = 0 if args.threads <= 1 else args.threads
    for _ in range(3):
        loader = DataLoader(ds, batch_size=128, shuffle=True, num_workers=workers)
        t0 = time.perf_counter()
        n = sum(1 for _ in loader)
        best = min(best, time.perf_counter() - t0)
    assert n == 469
    print(json.dumps({"bench": "fmnist_epoch", "impl": "torch", "threads": args.threads,
                      "batches_per_s": round(469 / best, 2)}), flush=True)


if __name__ == "__main__":
    main()

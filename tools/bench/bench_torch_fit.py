#!/usr/bin/python3
"""The PyTorch side of bench_fit.c: the Keras issue's MLP (784-256-256-10)
and CNN (Conv 32 3x3, pool, Conv 64 3x3, pool, Dense 128, Dense 10) on
Fashion-MNIST from Debian's IDX files, batch 128, Adam 1e-3, data in
memory, shuffled each epoch. Prints JSON lines: training and inference
samples/s, epoch wall time, test accuracy after each epoch, peak RSS."""
import argparse
import gzip
import json
import resource
import time

import numpy as np
import torch
import torch.nn as nn

DATA = "/usr/share/datasets/fashion-mnist"


def idx(name):
    path = f"{DATA}/{name}"
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load():
    import os
    names = os.listdir(DATA)

    def find(prefix):
        return next(n for n in sorted(names) if n.startswith(prefix))
    x = idx(find("train-images")).astype(np.float32) / 255
    y = idx(find("train-labels")).astype(np.int64)
    xt = idx(find("t10k-images")).astype(np.float32) / 255
    yt = idx(find("t10k-labels")).astype(np.int64)
    return (torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(xt),
            torch.from_numpy(yt))


def mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256),
                         nn.ReLU(), nn.Linear(256, 10))


def cnn():
    return nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(64 * 5 * 5, 128), nn.ReLU(), nn.Linear(128, 10))


def epoch_record(kind, config, threads, epoch, n, train_s, ntest, infer_s, correct):
    """One epoch's JSON line (as a dict): n training samples in train_s
    seconds, ntest test samples in infer_s with correct right; the peak
    RSS is this process's."""
    return {
        "bench": f"fit_{kind}", "impl": "torch", "config": config,
        "threads": threads, "epoch": epoch,
        "train_samples_per_s": round(n / train_s, 1),
        "infer_samples_per_s": round(ntest / infer_s, 1),
        "epoch_s": round(train_s, 3),
        "test_accuracy": round(correct / ntest, 4),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--model", default="mlp,cnn")
    ap.add_argument("--config", default="installed")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    x, y, xt, yt = load()
    for kind in args.model.split(","):
        model = mlp() if kind == "mlp" else cnn()
        xs, xts = (x, xt) if kind == "mlp" else (x[:, None], xt[:, None])
        opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
        loss_fn = nn.CrossEntropyLoss()
        n = xs.shape[0]
        for epoch in range(args.epochs):
            model.train()
            perm = torch.randperm(n)
            t0 = time.perf_counter()
            for i in range(0, n, 128):
                idx_ = perm[i:i + 128]
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(model(xs[idx_]), y[idx_])
                loss.backward()
                opt.step()
            train_s = time.perf_counter() - t0
            model.eval()
            t0 = time.perf_counter()
            correct = 0
            with torch.no_grad():
                for i in range(0, xts.shape[0], 128):
                    correct += (model(xts[i:i + 128]).argmax(1) == yt[i:i + 128]).sum().item()
            infer_s = time.perf_counter() - t0
            print(json.dumps(epoch_record(kind, args.config, args.threads, epoch + 1, n, train_s,
                                          xts.shape[0], infer_s, correct)), flush=True)


if __name__ == "__main__":
    main()

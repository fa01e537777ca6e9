#!/usr/bin/python3
"""The PyTorch side of tools/bench: the same cases as bench_ops.c, timed the
same way (fastest of five batches), printed as the same JSON lines."""
import argparse
import json
import time

import torch


def time_it(fn):
    iters = 1
    while True:
        t0 = time.perf_counter()
        fn(iters)
        dt = time.perf_counter() - t0
        if dt > 0.05:
            break
        iters *= 10 if dt < 0.005 else 2
    best = 1e30
    for _ in range(5):
        t0 = time.perf_counter()
        fn(iters)
        best = min(best, (time.perf_counter() - t0) / iters)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--filter", default=None)
    ap.add_argument("--config", default="installed")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)

    def wanted(name):
        return args.filter is None or args.filter in name

    def report(name, sec, key=None, val=None):
        d = {"bench": name, "impl": "torch", "config": args.config,
             "threads": args.threads, "ns": round(sec * 1e9, 1)}
        if key:
            d[key] = round(val, 2)
        print(json.dumps(d), flush=True)

    with torch.no_grad():
        if wanted("tiny_add"):
            for name, shape in (("tiny_add_1", (1,)), ("tiny_add_32x32", (32, 32))):
                a, b = torch.ones(shape), torch.ones(shape)

                def run(n, a=a, b=b):
                    for _ in range(n):
                        torch.add(a, b)
                report(name, time_it(run))

        big = 16 * 1024 * 1024
        if any(wanted(k) for k in ("memcpy", "add_16M", "mul_16M", "relu_16M")):
            a, b = torch.rand(big), torch.rand(big)
            nbytes = big * 4
            t = time_it(lambda n: [torch.add(a, b) for _ in range(n)])
            report("add_16M", t, "GBps", 3 * nbytes / t / 1e9)
            t = time_it(lambda n: [torch.mul(a, b) for _ in range(n)])
            report("mul_16M", t, "GBps", 3 * nbytes / t / 1e9)
            t = time_it(lambda n: [torch.relu(a) for _ in range(n)])
            report("relu_16M", t, "GBps", 2 * nbytes / t / 1e9)

        for name, m, k, n_ in (("matmul_1024", 1024, 1024, 1024),
                               ("matmul_128x784x256", 128, 784, 256),
                               ("matmul_128x256x784", 128, 256, 784),
                               ("matmul_784x128x256", 784, 128, 256)):
            if not wanted(name):
                continue
            a, b = torch.rand(m, k), torch.rand(k, n_)
            t = time_it(lambda n, a=a, b=b: [torch.matmul(a, b) for _ in range(n)])
            report(name, t, "GFLOPs", 2 * m * k * n_ / t / 1e9)

        if wanted("reduce_sum"):
            x = torch.rand(4096, 4096)
            t = time_it(lambda n: [x.sum(1) for _ in range(n)])
            report("reduce_sum_rows_4096", t, "GBps", 4096 * 4096 * 4 / t / 1e9)
            t = time_it(lambda n: [x.sum(0) for _ in range(n)])
            report("reduce_sum_cols_4096", t, "GBps", 4096 * 4096 * 4 / t / 1e9)

    if wanted("chain"):
        x = torch.rand(256, 256)
        w = torch.rand(256, 256, requires_grad=True)
        b = torch.rand(256, requires_grad=True)

        def chain():
            h = x * w
            h = h + b
            h = torch.tanh(h)
            h = h * x
            h = torch.sigmoid(h)
            h = h - b
            h = torch.square(h)
            h = torch.exp(-h)
            h = torch.relu(h)
            return h.sum()

        def fwd(n):
            with torch.no_grad():
                for _ in range(n):
                    chain()

        def fwd_bwd(n):
            for _ in range(n):
                torch.autograd.grad(chain(), (w, b))
        f, fb = time_it(fwd), time_it(fwd_bwd)
        report("chain10_forward_256", f)
        report("chain10_forward_backward_256", fb, "backward_over_forward", (fb - f) / f)


if __name__ == "__main__":
    main()

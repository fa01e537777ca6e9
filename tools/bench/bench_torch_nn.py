#!/usr/bin/python3
"""The PyTorch side of bench_nn.c: the same layers (channels-last data as
Keras has it, permuted once outside the timing to torch's NCHW), timed the
same way, printed as the same JSON lines. Forward runs in training mode
under no_grad; forward+backward takes the gradients of the output's sum
for the input and every parameter."""
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

    def report(name, sec):
        print(json.dumps({"bench": name, "impl": "torch", "config": args.config,
                          "threads": args.threads, "ns": round(sec * 1e9, 1)}), flush=True)

    def layer_bench(name, module, shape):
        fwd, bwd = name + "_fwd", name + "_fwdbwd"
        if not wanted(fwd) and not wanted(bwd):
            return
        module.train()
        x = torch.randn(*shape)
        if wanted(fwd):
            def run_fwd(n):
                with torch.no_grad():
                    for _ in range(n):
                        module(x)
            report(fwd, time_it(run_fwd))
        if wanted(bwd):
            xg = x.clone().requires_grad_(True)

            def run_bwd(n):
                for _ in range(n):
                    module.zero_grad(set_to_none=True)
                    xg.grad = None
                    module(xg).sum().backward()
            report(bwd, time_it(run_bwd))

    nn = torch.nn
    layer_bench("dense_784_256", nn.Linear(784, 256), (128, 784))
    layer_bench("conv2d_28x28x1_32_3x3", nn.Conv2d(1, 32, 3), (128, 1, 28, 28))
    layer_bench("conv2d_13x13x32_64_3x3", nn.Conv2d(32, 64, 3), (128, 32, 13, 13))
    layer_bench("maxpool2d_26x26x32_2x2", nn.MaxPool2d(2), (128, 32, 26, 26))
    layer_bench("batchnorm_14x14x64", nn.BatchNorm2d(64, eps=1e-3, momentum=0.01),
                (128, 64, 14, 14))
    # One step of each optimizer on 2^20 float32 elements, Keras's defaults
    # (epsilon 1e-7, Adagrad's initial accumulator 0.1, RMSprop's rho 0.9,
    # Adadelta's rho 0.95, AdamW's weight decay 0.004). torch has no Ftrl.
    # Each in torch's faster mode on the CPU (1.13): foreach for Adam and
    # AdamW (about 2x), the per-tensor loop for the others (foreach is
    # slower there).
    optim = torch.optim

    def opt_bench(name, make):
        if not wanted(name):
            return
        w = torch.nn.Parameter(torch.randn(1 << 20))
        w.grad = torch.randn(1 << 20)
        opt = make([w])

        def run_step(n):
            for _ in range(n):
                opt.step()
        report(name, time_it(run_step))

    opt_bench("adam_1M_step", lambda p: optim.Adam(p, lr=1e-3, eps=1e-7, foreach=True))
    opt_bench("adamw_1M_step",
              lambda p: optim.AdamW(p, lr=1e-3, eps=1e-7, weight_decay=0.004, foreach=True))
    opt_bench("adamax_1M_step", lambda p: optim.Adamax(p, lr=1e-3, eps=1e-7))
    opt_bench("nadam_1M_step", lambda p: optim.NAdam(p, lr=1e-3, eps=1e-7))
    opt_bench("sgd_1M_step", lambda p: optim.SGD(p, lr=0.01))
    opt_bench("sgd_momentum_1M_step", lambda p: optim.SGD(p, lr=0.01, momentum=0.9))
    opt_bench("rmsprop_1M_step", lambda p: optim.RMSprop(p, lr=1e-3, alpha=0.9, eps=1e-7))
    opt_bench("adagrad_1M_step",
              lambda p: optim.Adagrad(p, lr=1e-3, initial_accumulator_value=0.1, eps=1e-7))
    opt_bench("adadelta_1M_step", lambda p: optim.Adadelta(p, lr=1e-3, rho=0.95, eps=1e-7))


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Reads the JSON lines of bench_ops and bench_torch.py and prints a table:
per benchmark and thread count, ctrain's time, torch's (as installed and
fastest), and torch/ctrain speedups (> 1 means ctrain is faster)."""
import json
import sys


def main(path):
    rows = {}
    for line in open(path):
        line = line.strip()
        if not line.startswith("{"):
            continue
        d = json.loads(line)
        key = (d["bench"], d["threads"])
        impl = d["impl"] if d["impl"] == "ctrain" else "torch_" + d.get("config", "installed")
        rows.setdefault(key, {})[impl] = d
    print(f"{'benchmark':32} {'thr':>3} {'ctrain':>12} {'torch':>12} {'torch best':>12}"
          f" {'speedup':>8} {'vs best':>8}  extra")
    for (bench, thr), r in sorted(rows.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        c = r.get("ctrain")
        ti, tf = r.get("torch_installed"), r.get("torch_fastest")

        def fmt(d):
            if not d:
                return "-"
            ns = d["ns"]
            return f"{ns / 1e6:.3f} ms" if ns >= 1e5 else f"{ns:.0f} ns"

        def ratio(d):
            return f"{d['ns'] / c['ns']:.2f}x" if c and d else "-"
        extra = ""
        if c:
            extra = ", ".join(f"{k}={v}" for k, v in c.items()
                              if k not in ("bench", "impl", "threads", "ns"))
        print(f"{bench:32} {thr:>3} {fmt(c):>12} {fmt(ti):>12} {fmt(tf):>12}"
              f" {ratio(ti):>8} {ratio(tf):>8}  {extra}")


if __name__ == "__main__":
    main(sys.argv[1])

#!/usr/bin/env python3
"""Control-loop latency in PyTorch: one conditional sample (n = 1) of a
7-dimensional x given 32 context features, from an EDM-preconditioned MLP
41 -> 256 -> 256 -> 256 -> 7 (SiLU; input c_in*x, c_noise = ln(sigma)/4, the
context and its present flag, as libscorematch lays it out) with random
weights, drawn with EDM's Heun sampler on a Karras grid (sigma 80 -> 0.002,
rho 7, then a last Euler step to 0: 2L - 1 evaluations on L levels). One
thread, torch.no_grad. Prints the median time per sample in microseconds
over --repeats samples after --warmup, one line per grid:

    torch levels=6 nfe=11 median_us=... min_us=...

bench/bench-latency runs this script and prints the ratio; it can also be
run alone:  /usr/bin/python3 bench/torch/latency.py [--levels 6,18]
Needs PyTorch (Debian's python3-torch); exits with status 2 without it.
"""
import argparse
import math
import statistics
import sys
import time

from side_tasks import edm_heun, karras  # beside this script

DIM, CTX, WIDTH, DEPTH, SIGMA_DATA = 7, 32, 256, 3, 0.5


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--levels", default="6,18", help="comma-separated grid sizes")
    ap.add_argument("--repeats", type=int, default=2000)
    ap.add_argument("--warmup", type=int, default=200)
    a = ap.parse_args()
    try:
        import torch
    except ImportError:
        print("latency.py: PyTorch is not installed (apt-get install python3-torch)",
              file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    torch.manual_seed(0)
    layers, width_in = [], DIM + 1 + CTX + 1
    for _ in range(DEPTH):
        layers += [torch.nn.Linear(width_in, WIDTH), torch.nn.SiLU()]
        width_in = WIDTH
    mlp = torch.nn.Sequential(*layers, torch.nn.Linear(WIDTH, DIM)).eval()
    ctx = torch.randn(1, CTX)
    flag = torch.ones(1, 1)
    sd2 = SIGMA_DATA * SIGMA_DATA

    def denoise(x, sigma):
        s2 = sigma * sigma
        c_in = 1.0 / math.sqrt(s2 + sd2)
        c_skip = sd2 / (s2 + sd2)
        c_out = sigma * SIGMA_DATA / math.sqrt(s2 + sd2)
        noise = torch.full((1, 1), 0.25 * math.log(sigma))
        f = mlp(torch.cat((c_in * x, noise, ctx, flag), dim=1))
        return c_skip * x + c_out * f

    def sample(sig):
        return edm_heun(torch, denoise, sig[0] * torch.randn(1, DIM), sig)

    with torch.no_grad():
        for levels in (int(v) for v in a.levels.split(",")):
            sig = karras(levels)
            for _ in range(a.warmup):
                sample(sig)
            times = []
            for _ in range(a.repeats):
                t0 = time.perf_counter()
                sample(sig)
                times.append(time.perf_counter() - t0)
            print("torch levels=%d nfe=%d median_us=%.1f min_us=%.1f" %
                  (levels, 2 * levels - 1, 1e6 * statistics.median(times), 1e6 * min(times)),
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

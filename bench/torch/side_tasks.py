#!/usr/bin/env python3
"""The tasks of bench/bench-side.c in PyTorch, timed inside this process.

bench/side_by_side.py runs this script and bench-side alternately and
prints the ratios. One task per run, one line of output:

    task=NAME threads=T kernels=torch-VERSION seconds=S units=U unit=WHAT

Tasks (the same definitions as bench-side.c; see there):
  lab-train     two moons (4000, noise 0.05, standardized), MLP 3 -> 128 x 3
                -> 2 (SiLU) on x || log sigma, 10 geometric levels 1 -> 0.01,
                sigma^2-weighted DSM, Adam 1e-3, batch 256; --steps (3000)
  lab-sample    annealed Langevin, --points (2000), 10 levels x 20 steps,
                step alpha = 0.2 sigma^2, the lab's network (random weights)
  digits-train  EDM on the 64-d digits (training rows, pixel/8 - 1), MLP
                65 -> 512 x 3 -> 64, log-normal sigma, Adam 2e-4, batch 256;
                --steps (2000)
  throughput    EDM Heun, 18 Karras levels (35 evaluations), --points (1000)
                of the width-512 64-d model (random weights, sigma_data 0.5)
  latency       one conditional sample of bench/torch/latency.py's model
                (7-d, context 32, width 256), 18 levels; the median of
                --repeats (200) samples (seconds is the median time of one)

Threads: torch.set_num_threads(T), and BLIS_NUM_THREADS=T when it is unset
(Debian's PyTorch multiplies through the system BLIS, which takes its
thread count from the environment; see bench/torch/README.md). Needs
PyTorch (Debian's python3-torch); exits with status 2 without it.
"""
import argparse
import math
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DIGITS_CSV = os.path.join(HERE, "..", "..", "examples", "data", "digits.csv")


def mlp(torch, fin, width, fout, depth=3):
    layers = []
    for _ in range(depth):
        layers += [torch.nn.Linear(fin, width), torch.nn.SiLU()]
        fin = width
    return torch.nn.Sequential(*layers, torch.nn.Linear(width, fout))


def karras(levels, smax=80.0, smin=0.002, rho=7.0):
    a, b = smax ** (1 / rho), smin ** (1 / rho)
    return [(a + i / (levels - 1) * (b - a)) ** rho for i in range(levels)] + [0.0]


def edm_heun(torch, denoise, x, sig):
    for s0, s1 in zip(sig[:-1], sig[1:]):
        d0 = (x - denoise(x, s0)) / s0
        x1 = x + (s1 - s0) * d0
        if s1 > 0:
            d1 = (x1 - denoise(x1, s1)) / s1
            x1 = x + (s1 - s0) * 0.5 * (d0 + d1)
        x = x1
    return x


def timed_train(torch, step, steps):
    for _ in range(20):
        step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return time.perf_counter() - t0


def lab_train(torch, a):
    n = 4000
    t = torch.rand(n // 2) * math.pi
    outer = torch.stack((torch.cos(t), torch.sin(t)), 1)
    inner = torch.stack((1 - torch.cos(t), 0.5 - torch.sin(t)), 1)
    x = torch.cat((outer, inner)) + 0.05 * torch.randn(n, 2)
    x = (x - x.mean(0)) / x.std(0)
    net = mlp(torch, 3, 128, 2)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    sigmas = torch.tensor([10 ** (-2 * i / 9) for i in range(10)])

    def step():
        xb = x[torch.randint(0, n, (256,))]
        s = sigmas[torch.randint(0, 10, (256,))].unsqueeze(1)
        z = torch.randn_like(xb)
        score = net(torch.cat((xb + s * z, torch.log(s)), 1))
        loss = ((s * score + z) ** 2).sum(1).mean() * 0.5
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    steps = a.steps or 3000
    return timed_train(torch, step, steps), steps, "steps"


def lab_sample(torch, a):
    net = mlp(torch, 3, 128, 2).eval()
    sigmas = [10 ** (-2 * i / 9) for i in range(10)]

    def run(n):
        x = torch.randn(n, 2)
        for s in sigmas:
            alpha = 0.2 * s * s
            col = torch.full((n, 1), math.log(s))
            for _ in range(20):
                x = x + alpha * net(torch.cat((x, col), 1)) + math.sqrt(2 * alpha) * \
                    torch.randn_like(x)
        return x

    n = a.points or 2000
    with torch.no_grad():
        run(max(n // 10, 1))
        t0 = time.perf_counter()
        run(n)
        return time.perf_counter() - t0, n, "points"


def digits_train(torch, a):
    import numpy as np
    pix = np.loadtxt(a.data, delimiter=",", dtype=np.float32)
    tr = pix[np.arange(len(pix)) % 3 != 2] / 8.0 - 1.0
    x = torch.from_numpy(np.ascontiguousarray(tr))
    sd = float(x.std(unbiased=False))
    n, d = x.shape
    net = mlp(torch, d + 1, 512, d)
    opt = torch.optim.Adam(net.parameters(), lr=2e-4)

    def step():
        y = x[torch.randint(0, n, (256,))]
        sigma = torch.exp(-1.2 + 1.2 * torch.randn(256, 1))
        v = sigma * sigma + sd * sd
        c_in, c_skip, c_out = 1 / torch.sqrt(v), sd * sd / v, sigma * sd / torch.sqrt(v)
        noisy = y + sigma * torch.randn_like(y)
        f = net(torch.cat((c_in * noisy, 0.25 * torch.log(sigma)), 1))
        lam = v / (sigma * sd) ** 2
        loss = (lam * (c_skip * noisy + c_out * f - y) ** 2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    steps = a.steps or 2000
    return timed_train(torch, step, steps), steps, "steps"


def edm_denoiser(torch, net, sd, extra=None):
    def denoise(x, sigma):
        v = sigma * sigma + sd * sd
        noise = torch.full((x.shape[0], 1), 0.25 * math.log(sigma))
        parts = (x / math.sqrt(v), noise) + ((extra,) if extra is not None else ())
        f = net(torch.cat(parts, 1))
        return sd * sd / v * x + sigma * sd / math.sqrt(v) * f
    return denoise


def throughput(torch, a):
    net = mlp(torch, 65, 512, 64).eval()
    denoise = edm_denoiser(torch, net, 0.5)
    sig = karras(18)
    n = a.points or 1000
    with torch.no_grad():
        edm_heun(torch, denoise, sig[0] * torch.randn(max(n // 10, 1), 64), sig)
        t0 = time.perf_counter()
        edm_heun(torch, denoise, sig[0] * torch.randn(n, 64), sig)
        return time.perf_counter() - t0, n, "points"


def latency(torch, a):
    dim, ctx_dim = 7, 32
    net = mlp(torch, dim + 1 + ctx_dim + 1, 256, dim).eval()
    extra = torch.cat((torch.randn(1, ctx_dim), torch.ones(1, 1)), 1)
    denoise = edm_denoiser(torch, net, 0.5, extra)
    sig = karras(18)
    times = []
    with torch.no_grad():
        for _ in range(a.repeats // 10 + 1):
            edm_heun(torch, denoise, sig[0] * torch.randn(1, dim), sig)
        for _ in range(a.repeats):
            t0 = time.perf_counter()
            edm_heun(torch, denoise, sig[0] * torch.randn(1, dim), sig)
            times.append(time.perf_counter() - t0)
    return statistics.median(times), 1, "samples"


TASKS = {"lab-train": lab_train, "lab-sample": lab_sample, "digits-train": digits_train,
         "throughput": throughput, "latency": latency}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--task", required=True, choices=sorted(TASKS))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=0)
    ap.add_argument("--points", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=200)
    ap.add_argument("--data", default=DIGITS_CSV)
    a = ap.parse_args()
    os.environ.setdefault("BLIS_NUM_THREADS", str(a.threads))
    try:
        import torch
    except ImportError:
        print("side_tasks.py: PyTorch is not installed (apt-get install python3-torch)",
              file=sys.stderr)
        return 2
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    seconds, units, unit = TASKS[a.task](torch, a)
    print("task=%s threads=%d kernels=torch-%s seconds=%.6f units=%d unit=%s" %
          (a.task, a.threads, torch.__version__, seconds, units, unit), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

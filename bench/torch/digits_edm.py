#!/usr/bin/env python3
"""PyTorch reference: EDM-preconditioned MLP on the 8x8 digits.

The anchor model of docs' REFERENCES (Karras et al. 2022 preconditioning):
pixels / 8 - 1; MLP 65 -> 512 -> 512 -> 512 -> 64 with SiLU, input
c_in * x || c_noise (c_noise = ln(sigma) / 4); sigma_data = standard deviation
of all training values (one scalar); ln sigma ~ N(-1.2, 1.2^2); loss weight
(sigma^2 + sigma_data^2) / (sigma * sigma_data)^2; Adam lr 2e-4, batch 256.
Sampling: EDM deterministic Heun sampler, 18 levels (35 network
evaluations), sigma_min 0.002, sigma_max 80, rho 7. Metrics in pixel units
against the held-out rows (digits_common.py).

Run with Debian's interpreter and python3-torch:
    /usr/bin/python3 bench/torch/digits_edm.py --threads 1 --seed 0
"""
import argparse
import json
import math
import os
import platform
import sys
import time


def _threads_from_argv(argv):
    for i, arg in enumerate(argv):
        if arg.startswith("--threads="):
            return arg.split("=", 1)[1]
        if arg == "--threads" and i + 1 < len(argv):
            return argv[i + 1]
    return "1"


# Debian's python3-torch does its matrix products through the system libblas.so.3,
# which is BLIS when libblis is installed. BLIS takes its thread count from the
# environment when it starts, not from torch.set_num_threads: set it before torch loads.
os.environ.setdefault("BLIS_NUM_THREADS", _threads_from_argv(sys.argv[1:]))

try:
    import torch
except ImportError:
    sys.exit("digits_edm.py needs PyTorch (Debian: apt-get install python3-torch; "
             "run it with /usr/bin/python3)")

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import digits_common as dc  # noqa: E402

P_MEAN, P_STD = -1.2, 1.2


def blas_library():
    """The BLAS shared object mapped into this process (after torch has loaded)."""
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "libblas" in line or "libblis" in line
                     or "openblas" in line or "libmkl" in line}
        return sorted(os.path.realpath(p) for p in paths if p.startswith("/"))
    except OSError:
        return []


class Denoiser(torch.nn.Module):
    """D(x, sigma) = c_skip x + c_out F(c_in x || c_noise)."""

    def __init__(self, dim, width, depth, sigma_data):
        super().__init__()
        layers, n_in = [], dim + 1
        for _ in range(depth):
            layers += [torch.nn.Linear(n_in, width), torch.nn.SiLU()]
            n_in = width
        layers.append(torch.nn.Linear(n_in, dim))
        self.f = torch.nn.Sequential(*layers)
        self.sigma_data = sigma_data

    def forward(self, x, sigma):
        # x: (B, dim) float32; sigma: (B, 1) float32
        sd2 = self.sigma_data ** 2
        c_skip = sd2 / (sigma ** 2 + sd2)
        c_out = sigma * self.sigma_data / torch.sqrt(sigma ** 2 + sd2)
        c_in = 1 / torch.sqrt(sigma ** 2 + sd2)
        c_noise = torch.log(sigma) / 4
        return c_skip * x + c_out * self.f(torch.cat([c_in * x, c_noise], dim=1))


def edm_loss(model, y):
    sigma = torch.exp(torch.randn(y.shape[0], 1) * P_STD + P_MEAN)
    sd = model.sigma_data
    weight = (sigma ** 2 + sd ** 2) / (sigma * sd) ** 2
    d = model(y + sigma * torch.randn_like(y), sigma)
    return (weight * (d - y) ** 2).mean()


def karras_sigmas(n, sigma_min, sigma_max, rho):
    """n levels from sigma_max down to sigma_min, then a final 0 (n + 1 values)."""
    i = torch.arange(n, dtype=torch.float64)
    s = (sigma_max ** (1 / rho) + i / (n - 1) * (sigma_min ** (1 / rho) - sigma_max ** (1 / rho))) ** rho
    return torch.cat([s, torch.zeros(1, dtype=torch.float64)])


@torch.no_grad()
def heun_sample(model, n, dim, levels, sigma_min, sigma_max, rho, batch=1000):
    """EDM Algorithm 1 (deterministic). State in float64, network in float32.
    Returns samples and the number of network evaluations per sample."""
    t = karras_sigmas(levels, sigma_min, sigma_max, rho)
    out, nfe = [], 0
    for start in range(0, n, batch):
        b = min(batch, n - start)
        x = torch.randn(b, dim, dtype=torch.float64) * t[0]
        nfe = 0

        def denoise(x, s):
            sig = torch.full((b, 1), float(s), dtype=torch.float32)
            return model(x.to(torch.float32), sig).to(torch.float64)

        for i in range(levels):
            s, s_next = t[i], t[i + 1]
            d = (x - denoise(x, s)) / s
            nfe += 1
            x_next = x + (s_next - s) * d
            if s_next > 0:
                d2 = (x_next - denoise(x_next, s_next)) / s_next
                nfe += 1
                x_next = x + (s_next - s) * (d + d2) / 2
            x = x_next
        out.append(x)
    return torch.cat(out).numpy(), nfe


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=20000, help="training steps (default 20000)")
    ap.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--width", type=int, default=512)
    ap.add_argument("--depth", type=int, default=3, help="hidden layers (default 3)")
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--levels", type=int, default=18, help="Heun levels (2 * levels - 1 NFE)")
    ap.add_argument("--sigma-min", type=float, default=0.002)
    ap.add_argument("--sigma-max", type=float, default=80.0)
    ap.add_argument("--rho", type=float, default=7.0)
    ap.add_argument("--data-dir", default=dc.DEFAULT_DATA_DIR)
    ap.add_argument("--out-json", help="write the figures to this file")
    ap.add_argument("--save-samples", help="write the samples (pixel units) to this CSV file")
    ap.add_argument("--log-every", type=int, default=1000, help="loss report interval (0: none)")
    a = ap.parse_args()
    if a.steps < 0 or a.threads < 1 or a.batch < 1 or a.samples < 4 or a.levels < 2:
        ap.error("need steps >= 0, threads >= 1, batch >= 1, samples >= 4, levels >= 2")

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    np.random.seed(a.seed)

    train_px, heldout_px = dc.load_digits_split(a.data_dir)
    y_all = torch.tensor(dc.pixels_to_model(train_px), dtype=torch.float32)
    n_train, dim = y_all.shape
    sigma_data = float(y_all.std(unbiased=False))

    model = Denoiser(dim, a.width, a.depth, sigma_data)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"torch {torch.__version__}, {a.threads} thread(s) "
          f"(BLIS_NUM_THREADS={os.environ.get('BLIS_NUM_THREADS')}, "
          f"BLIS_ARCH_TYPE={os.environ.get('BLIS_ARCH_TYPE', 'unset')}); {n_train} training rows, "
          f"sigma_data {sigma_data:.4f}; {n_params} parameters; {a.steps} steps", file=sys.stderr)

    loss_sum, loss_n = 0.0, 0
    t0, c0 = time.perf_counter(), time.process_time()
    for step in range(1, a.steps + 1):
        idx = torch.randint(0, n_train, (a.batch,))
        loss = edm_loss(model, y_all[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss_sum += loss.item()
        loss_n += 1
        if a.log_every and step % a.log_every == 0:
            print(f"step {step:6d}  loss {loss_sum / loss_n:.4f}  "
                  f"{time.perf_counter() - t0:7.1f} s", file=sys.stderr)
            loss_sum, loss_n = 0.0, 0
    train_s = time.perf_counter() - t0
    train_cpu_s = time.process_time() - c0  # all threads of the process
    load = os.getloadavg()

    model.eval()
    t1 = time.perf_counter()
    x, nfe = heun_sample(model, a.samples, dim, a.levels, a.sigma_min, a.sigma_max, a.rho)
    sample_s = time.perf_counter() - t1
    samples_px = dc.model_to_pixels(x)
    if a.save_samples:
        np.savetxt(a.save_samples, samples_px, delimiter=",", fmt="%.6g")

    m = dc.evaluate(samples_px, heldout_px)
    res = {
        "script": "digits_edm.py",
        "torch": torch.__version__,
        "python": platform.python_version(),
        "blas": blas_library(),
        "env": {k: os.environ[k] for k in ("BLIS_NUM_THREADS", "BLIS_ARCH_TYPE", "OMP_NUM_THREADS")
                if k in os.environ},
        "threads": a.threads, "seed": a.seed, "steps": a.steps, "batch": a.batch,
        "lr": a.lr, "width": a.width, "depth": a.depth, "parameters": n_params,
        "n_train": int(n_train), "n_heldout": int(len(heldout_px)), "sigma_data": sigma_data,
        "levels": a.levels, "nfe": nfe, "sigma_min": a.sigma_min, "sigma_max": a.sigma_max,
        "rho": a.rho,
        "train_seconds": train_s,
        "steps_per_second": a.steps / train_s if train_s > 0 else float("nan"),
        "train_cpu_seconds": train_cpu_s,
        "load_average_after_training": list(load),
        "sample_seconds": sample_s,
        **m,
        "pixel_range": [float(np.nanmin(samples_px)), float(np.nanmax(samples_px))],
        "train_rows_vs_heldout": dc.reference_figures(train_px, heldout_px),
    }
    print(f"FD {m['fd']:.2f} (clipped to 0-16: {m.get('fd_clipped', float('nan')):.2f})  "
          f"precision {m['precision']:.3f}  recall {m['recall']:.3f}  "
          f"non-finite {m['n_nonfinite']}/{m['n_samples']}")
    print(f"training {train_s:.1f} s ({res['steps_per_second']:.1f} steps/s, {a.threads} thread(s), "
          f"{train_cpu_s:.1f} s CPU); sampling {sample_s:.2f} s at {nfe} NFE")
    if a.out_json:
        with open(a.out_json, "w") as f:
            json.dump(res, f, indent=2)
            f.write("\n")
    return 0 if math.isfinite(m["fd"]) else 1


if __name__ == "__main__":
    sys.exit(main())

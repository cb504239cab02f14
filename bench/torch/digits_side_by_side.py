#!/usr/bin/env python3
"""Training speed on the 8x8 digits, libscorematch against PyTorch, measured
in one run: the same model (EDM, MLP 65 -> 512 -> 512 -> 512 -> 64, SiLU),
batch and number of steps, at 1 and 2 threads, runs alternating between the
two so that a change in the machine's load hits both. Prints steps per
second of every run, the medians, and the ratio of libscorematch's best
median to PyTorch's best (PyTorch at its fastest thread setting).

    bench/torch/digits_side_by_side.py --digits build/examples/digits \
        [--steps 2000] [--repeats 3]

Needs PyTorch (Debian's python3-torch); exits with status 2 without it.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def run_ours(exe, steps, threads):
    out = subprocess.run([exe, "--steps", str(steps), "--threads", str(threads), "--gmm", "0",
                          "--samples", "200", "--quiet"],
                         check=True, capture_output=True, text=True).stdout
    m = re.search(r"steps_per_s=([0-9.]+)", out)
    if not m:
        raise RuntimeError("no steps_per_s in: " + out)
    return float(m.group(1))


def run_torch(steps, threads):
    with tempfile.TemporaryDirectory() as d:
        js = os.path.join(d, "out.json")
        subprocess.run([sys.executable, os.path.join(HERE, "digits_edm.py"), "--steps", str(steps),
                        "--threads", str(threads), "--samples", "200", "--log-every", "0",
                        "--out-json", js], check=True, capture_output=True, text=True)
        with open(js) as f:
            return float(json.load(f)["steps_per_second"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--digits", required=True, help="the built examples/digits program")
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    try:
        import torch  # noqa: F401
    except ImportError:
        print("digits_side_by_side: PyTorch is not installed (apt-get install python3-torch)",
              file=sys.stderr)
        return 2
    runs = {("libscorematch", t): [] for t in (1, 2)}
    runs.update({("pytorch", t): [] for t in (1, 2)})
    for r in range(a.repeats):
        for t in (1, 2):
            runs[("libscorematch", t)].append(run_ours(a.digits, a.steps, t))
            runs[("pytorch", t)].append(run_torch(a.steps, t))
            print(f"repeat {r + 1}, {t} thread(s): libscorematch "
                  f"{runs[('libscorematch', t)][-1]:.1f} steps/s, pytorch "
                  f"{runs[('pytorch', t)][-1]:.1f} steps/s", flush=True)
    med = {k: statistics.median(v) for k, v in runs.items()}
    for (who, t), m in sorted(med.items()):
        print(f"median {who:13s} {t} thread(s): {m:.1f} steps/s")
    ours = max(med[("libscorematch", 1)], med[("libscorematch", 2)])
    theirs = max(med[("pytorch", 1)], med[("pytorch", 2)])
    print(f"ratio (best libscorematch / best pytorch): {ours / theirs:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

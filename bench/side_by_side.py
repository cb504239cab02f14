#!/usr/bin/env python3
"""libscorematch beside PyTorch, measured in one run.

Runs every task of bench/bench-side (the library) and of
bench/torch/side_tasks.py (the same work in PyTorch) at each thread count,
--repeats times, alternating between them so that a change in the machine's
load hits all of them alike, and prints the medians and their ratios, then
the same as a Markdown table (docs/speed.md has one).

    /usr/bin/python3 bench/side_by_side.py [--build build] [--repeats 5]
        [--threads 1,2] [--tasks lab-train,lab-sample,...] [--quick] [--no-torch]

The library runs twice per repeat: as any program linking it gets it
("BLIS as found": bench-side sets no environment variable, so BLIS picks its
kernels for this CPU itself) and as the example programs run it ("examples'
kernels": bench-side --choose-kernels, which calls choose_blis_kernels() of
examples/blis_kernels.h first). BLIS_ARCH_TYPE is removed from the
environment of every run unless --keep-env is given, so that neither side
inherits a kernel choice from the calling shell. PyTorch (Debian's
python3-torch, through /usr/bin/python3) runs as installed; without it the
PyTorch column says so.
"""
import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TORCH_PY = "/usr/bin/python3"
TASKS = ["lab-train", "lab-sample", "digits-train", "throughput", "latency"]
WHAT = {
    "lab-train": "lab training (moons, 3→128×3→2, batch 256)",
    "lab-sample": "lab sampling (annealed Langevin, 200 evaluations)",
    "digits-train": "training, width 512, 64-d digits (EDM, batch 256)",
    "throughput": "sampling throughput, width 512, 64-d, 35 evaluations",
    "latency": "one conditional sample (7-d, width 256, 35 evaluations)",
}
QUICK = {"lab-train": ["--steps", "300"], "lab-sample": ["--points", "400"],
         "digits-train": ["--steps", "40"], "throughput": ["--points", "200"],
         "latency": ["--repeats", "40"]}
LINE = re.compile(r"task=(\S+) threads=(\d+) kernels=(\S+) seconds=([0-9.eE+-]+) "
                  r"units=(\d+) unit=(\S+)")


def load():
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "?"


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def run(cmd, env):
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    m = LINE.search(p.stdout)
    if p.returncode != 0 or not m:
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr.strip()[-400:]}")
    return {"kernels": m.group(3), "seconds": float(m.group(4)), "units": int(m.group(5)),
            "unit": m.group(6)}


def have_torch(env):
    try:
        return subprocess.run([TORCH_PY, "-c", "import torch"], env=env,
                              capture_output=True).returncode == 0
    except OSError:
        return False


def fmt_time(s):
    return f"{s * 1e6:.0f} µs" if s < 0.01 else f"{s:.3f} s"


def fmt_cell(r):
    if not r:
        return "—"
    rate = r["units"] / r["seconds"]
    rate_s = f"{rate:,.0f}" if rate >= 100 else f"{rate:.1f}"
    return f"{fmt_time(r['seconds'])} ({rate_s} {r['unit']}/s)"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default="build", help="the meson build directory")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--tasks", default=",".join(TASKS))
    ap.add_argument("--quick", action="store_true",
                    help="small sizes, to check that everything runs (figures not comparable)")
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--keep-env", action="store_true",
                    help="keep BLIS_ARCH_TYPE of the calling environment")
    a = ap.parse_args()
    tasks = [t for t in a.tasks.split(",") if t]
    threads = [int(t) for t in a.threads.split(",") if t]
    if any(t not in TASKS for t in tasks) or not threads or min(threads) < 1 or a.repeats < 1:
        ap.error(f"tasks are {', '.join(TASKS)}; threads ≥ 1; repeats ≥ 1")
    bench = os.path.join(a.build, "bench", "bench-side")
    if not os.access(bench, os.X_OK):
        ap.error(f"{bench} is not built (meson compile -C {a.build})")
    env = dict(os.environ)
    if not a.keep_env:
        env.pop("BLIS_ARCH_TYPE", None)
    torch = not a.no_torch and have_torch(env)
    tasks_py = os.path.join(HERE, "torch", "side_tasks.py")
    sides = [("found", [bench]), ("chosen", [bench, "--choose-kernels"])]
    if torch:
        sides.append(("torch", [TORCH_PY, tasks_py]))

    started, load0 = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), load()
    print(f"side by side: {cpu_name()}, {os.cpu_count()} CPUs, load average {load0}, "
          f"{a.repeats} alternating repeats, median of each", flush=True)
    results = {}
    for task in tasks:
        extra = QUICK[task] if a.quick else []
        for t in threads:
            runs = {name: [] for name, _ in sides}
            for r in range(a.repeats):
                order = sides if r % 2 == 0 else sides[::-1]
                for name, cmd in order:
                    runs[name].append(run(cmd + ["--task", task, "--threads", str(t)] + extra,
                                          env))
                print(f"  {task} {t} thread(s) repeat {r + 1}: " +
                      ", ".join(f"{n} {fmt_time(runs[n][-1]['seconds'])}" for n, _ in sides),
                      flush=True)
            med = {}
            for name, rs in runs.items():
                m = dict(rs[0])
                m["seconds"] = statistics.median(x["seconds"] for x in rs)
                med[name] = m
            results[(task, t)] = med
    load1 = load()

    header = ["task", "threads", "libscorematch, BLIS as found",
              "libscorematch, examples' kernels", "PyTorch",
              "PyTorch ÷ libscorematch (as found)", "PyTorch ÷ libscorematch (examples')"]
    rows = []
    kernels = set()
    no_torch = "not run (--no-torch)" if a.no_torch else "not installed"
    for (task, t), med in results.items():
        kernels.add(f"as found: {med['found']['kernels']}, examples': {med['chosen']['kernels']}")
        tr = med.get("torch")
        ratio = lambda k: f"{tr['seconds'] / med[k]['seconds']:.2f}" if tr else "—"
        rows.append([WHAT[task], str(t), fmt_cell(med["found"]), fmt_cell(med["chosen"]),
                     fmt_cell(tr) if tr else no_torch, ratio("found"), ratio("chosen")])
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    print()
    for r in [header] + rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))
    torch_v = next((m["torch"]["kernels"] for m in results.values() if "torch" in m), "none")
    print("\nRatios above 1: PyTorch takes longer than libscorematch. Times are medians of the "
          "timed part only (no start-up).")
    print("\nMarkdown:\n")
    print(f"Measured {started}: {cpu_name()}, {os.cpu_count()} CPUs, load average {load0} "
          f"before and {load1} after; BLIS kernels {'; '.join(sorted(kernels))}; "
          f"PyTorch {torch_v}; median of {a.repeats} alternating runs"
          f"{' (--quick sizes)' if a.quick else ''}.\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for r in rows:
        print("| " + " | ".join(r) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

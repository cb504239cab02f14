#!/usr/bin/env python3
"""Data-parallel training over MPI on this machine (mpirun -np 2).

1. test-mpi: two ranks with half of a batch each give the parameters of one
   process with the whole batch (tolerance and reasons in test-mpi.c).
2. mpi_train (when built): --exact and sharded runs finish, rank 0 writes
   the model, a checkpoint, and a run resumed from the checkpoint works.
3. A rank that dies in the middle of training makes the job end with an
   error instead of leaving the other rank waiting in MPI_Allreduce forever.

usage: check-mpi.py MPIRUN TEST_MPI [MPI_TRAIN]
"""
import os
import re
import subprocess
import sys
import tempfile

mpirun, test_mpi = sys.argv[1], sys.argv[2]
mpi_train = sys.argv[3] if len(sys.argv) > 3 else None

env = dict(os.environ)
# Launch on this machine only (no ssh or rsh needed, as in a container),
# over shared memory, giving the core away while waiting: the two ranks
# share two cores with other work.
env.update({
    "OMPI_MCA_plm": "isolated",
    "OMPI_MCA_btl": "self,vader",
    "OMPI_MCA_btl_vader_single_copy_mechanism": "none",
    "OMPI_MCA_mpi_yield_when_idle": "1",
    "OMPI_MCA_rmaps_base_oversubscribe": "1",
})
# Open MPI's own allocations are not the library's leaks.
env["ASAN_OPTIONS"] = ":".join(filter(None, [env.get("ASAN_OPTIONS"), "detect_leaks=0"]))
base = [mpirun, "-np", "2", "--oversubscribe"]
if os.geteuid() == 0:
    base.append("--allow-run-as-root")

failures = 0


def run(args, timeout):
    cmd = base + args
    print("+", " ".join(cmd), flush=True)
    try:
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        return None, (e.stdout or b"").decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
    sys.stdout.write(p.stdout)
    sys.stdout.write(p.stderr[-3000:])
    return p.returncode, p.stdout


def check(cond, what):
    global failures
    if not cond:
        failures += 1
        print("FAIL:", what, flush=True)


rc, out = run([test_mpi], 900)
check(rc == 0 and "OK: 0 failed checks" in out, "test-mpi: two ranks against one process")

if mpi_train:
    with tempfile.TemporaryDirectory() as d:
        model, ckpt = os.path.join(d, "model.smm"), os.path.join(d, "ckpt.smm")
        samples = os.path.join(d, "samples.csv")
        common = ["--steps", "40", "--samples", "200", "--threads", "1", "--quiet"]
        rc, out = run([mpi_train, "--exact", "--out", model, "--checkpoint", ckpt,
                       "--checkpoint-every", "20", "--samples-csv", samples] + common, 600)
        line = re.search(r"final_loss=(\S+) coverage=(\S+) precision=(\S+) ranks=2 "
                         r"global_batch=256", out or "")
        check(rc == 0 and line is not None, "mpi_train --exact on 2 ranks")
        check(line is not None and 0.0 < float(line.group(1)) < 2.0,
              "mpi_train --exact: a finite loss of the lab's size")
        for f in (model, ckpt, samples):
            check(os.path.exists(f) and os.path.getsize(f) > 0, "rank 0 wrote " + f)
        if os.path.exists(samples):
            rows = [r for r in open(samples).read().splitlines() if r.strip()]
            check(len(rows) == 200 and all(len(r.split(",")) == 2 for r in rows),
                  "200 samples of 2 numbers")
        # Sharded CSV (rows r, r + 2, ...), resumed from the checkpoint.
        csv = os.path.join(d, "points.csv")
        with open(csv, "w") as f:
            for i in range(600):
                t = i / 600 * 6.283
                f.write(f"{3 + (i % 7) * 0.01 + t:.5f},{-2 + 0.5 * (i % 5) - t / 3:.5f}\n")
        rc, out = run([mpi_train, "--csv", csv, "--resume", ckpt] + common, 600)
        check(rc == 0 and re.search(r"final_loss=\S+ .*ranks=2 global_batch=256", out or ""),
              "mpi_train: CSV shards, resumed from a checkpoint")

    # A dying rank: rank 1 exits at step 5 of a run far too long to finish
    # in the time given; Open MPI must end the job with an error.
    rc, out = run([mpi_train, "--die-at", "5", "--steps", "100000000", "--threads", "1",
                   "--quiet"], 300)
    check(rc is not None, "the job hung after a rank died (killed after 300 s)")
    check(rc is not None and rc != 0, "the job ended with status 0 after a rank died")
    check("final_loss" not in (out or ""), "the surviving rank finished training alone")

print("check-mpi: %d failure%s" % (failures, "" if failures == 1 else "s"))
sys.exit(1 if failures else 0)

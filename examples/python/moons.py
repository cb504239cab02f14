#!/usr/bin/python3
"""The Hands-On Lab (two moons) in Python, through the scorematch bindings.

Same configuration and the same random streams as examples/moons_lab.c, so
with the same --seed and --threads it prints the same numbers: moons
n = 4000, noise 0.05, standardized; MLP 3 -> 128 -> 128 -> 128 -> 2 (SiLU);
10 geometric noise levels 1.0 -> 0.01; Adam lr 1e-3, batch 256, 3000 steps;
2000 samples, 20 Langevin steps per level, step ratio alpha/sigma^2 = 0.2.

Run from a build tree:

    SCOREMATCH_LIBRARY=build/lib/libscorematch.so.0 PYTHONPATH=bindings/python \\
        /usr/bin/python3 examples/python/moons.py --samples-csv samples.csv
"""

import argparse
import importlib.util
import os
import sys
import time


def parse_args(argv):
    p = argparse.ArgumentParser(description="Trains a score model on two moons and "
                                "samples it (the Hands-On Lab), from Python.")
    p.add_argument("--seed", type=int, default=0,
                   help="model/training/sampling seed (the data set always uses seed 0)")
    p.add_argument("--steps-per-scale", type=int, default=20,
                   help="Langevin steps per noise level (default 20)")
    p.add_argument("--no-noise", action="store_true",
                   help="drop the Langevin noise term (the collapse experiment)")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                   help="threads of the network (default: all online cores)")
    p.add_argument("--train-steps", type=int, default=3000, help="training steps (3000)")
    p.add_argument("--samples", type=int, default=2000, help="number of samples (2000)")
    p.add_argument("--step-ratio", type=float, default=0.2,
                   help="Langevin step ratio alpha/sigma^2 (default 0.2)")
    p.add_argument("--final-denoise", action="store_true",
                   help="add the denoising step x += sigma_L^2 s(x, sigma_L)")
    p.add_argument("--samples-csv", metavar="PATH", help="write the samples as CSV")
    p.add_argument("--library", metavar="PATH",
                   help="libscorematch to load (default: $SCOREMATCH_LIBRARY, then the "
                        "system's)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if importlib.util.find_spec("numpy") is None:  # the bindings need it
        print("moons.py: NumPy is not importable with %s (install python3-numpy)"
              % sys.executable, file=sys.stderr)
        return 77  # "skipped" for meson's test harness
    try:
        import scorematch as sm
    except ImportError:  # running from a source checkout without PYTHONPATH
        here = os.path.dirname(os.path.abspath(__file__))
        sys.path.insert(0, os.path.join(here, "..", "..", "bindings", "python"))
        import scorematch as sm
    sm.load_library(args.library)
    if not args.quiet:
        print("moons.py: %d thread%s, kernels %s (BLIS '%s'), %s" % (
            args.threads, "" if args.threads == 1 else "s", sm.kernel_config(),
            sm.blas_config(), sm.library_path()), file=sys.stderr)

    try:
        # Step 1: the distribution.
        with sm.Rng(0) as data_rng:
            data = sm.moons(4000, noise=0.05, shuffle=True, rng=data_rng).standardize()

        # Steps 2-4: network, noise ladder, optimizer, training.
        rng = sm.Rng(args.seed)
        net = sm.Net(2, width=128, depth=3, rng=rng, threads=args.threads)
        sched = sm.Schedule.geometric(1.0, 0.01, 10)
        opt = sm.Adam(net, lr=1e-3)
        trainer = sm.Trainer(net, sched, opt, batch_size=256)

        def progress(step, total, loss):
            if not args.quiet:
                print("step %5d/%d  loss %.4f" % (step, total, loss), file=sys.stderr)

        t0 = time.perf_counter()
        final_loss = trainer.fit(data, args.train_steps, rng=rng, callback=progress,
                                 every=500)
        train_s = time.perf_counter() - t0

        # Step 5: annealed Langevin dynamics.
        sampler = sm.Sampler(net, sched, steps_per_scale=args.steps_per_scale,
                             step_ratio=args.step_ratio, noise=not args.no_noise,
                             final_denoise=args.final_denoise)
        t0 = time.perf_counter()
        samples = sampler.run(args.samples, rng=rng)
        sample_s = time.perf_counter() - t0

        # Step 6: measure.
        m = sm.coverage_precision(data, samples, radius=0.15)
        if args.samples_csv:
            sm.write_csv(args.samples_csv, samples)
    except sm.Error as e:
        print("moons.py: %s" % e, file=sys.stderr)
        return 1
    print("final_loss=%.4f coverage=%.4f precision=%.4f train_s=%.2f sample_s=%.2f "
          "nfe=%d nonfinite=%d" % (final_loss, m.coverage, m.precision, train_s, sample_s,
                                   sampler.nfe, m.nonfinite))
    return 0


if __name__ == "__main__":
    sys.exit(main())

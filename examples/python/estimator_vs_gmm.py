#!/usr/bin/python3
"""Held-out log-density of scorematch.ScoreModel against scikit-learn's
GaussianMixture with its component count chosen by BIC.

For each data set and seed: the points are split 2:1 into training and
test sets, ScoreModel(**params).fit(train).score_samples(test).mean() (on
a 256-level grid, --levels) and
the same for the best GaussianMixture by BIC (full covariances, k = 1 ...
--max-components, fitted on the training set) are printed in nats per
point, in the data's units, with the mean offset of 1000 samples from the
training data (in its standard deviations) and the range of the ratios of
their standard deviations. Needs python3-sklearn.

    SCOREMATCH_LIBRARY=build/lib/libscorematch.so.0 PYTHONPATH=bindings/python \\
        /usr/bin/python3 examples/python/estimator_vs_gmm.py --seeds 0 1 2

Any ScoreModel parameter can be given as --param NAME=VALUE (repeatable).
"""

import argparse
import ast
import sys
import time

import numpy as np
from sklearn.datasets import make_moons, make_swiss_roll
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import train_test_split

import scorematch as sm


def data_set(name, n, seed):
    if name == "moons":
        X, _ = make_moons(n, noise=0.05, random_state=seed)
    elif name == "swissroll3d":
        X, _ = make_swiss_roll(n, noise=0.5, random_state=seed)
    else:
        raise ValueError(name)
    return train_test_split(X, test_size=1 / 3, random_state=seed)


def gmm_bic(train, test, max_k, seed):
    best = None
    for k in range(1, max_k + 1):
        g = GaussianMixture(k, covariance_type="full", n_init=1, random_state=seed).fit(train)
        bic = g.bic(train)
        if best is None or bic < best[0]:
            best = (bic, k, g)
    return best[1], float(best[2].score_samples(test).mean())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sets", nargs="+", default=["moons", "swissroll3d"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0])
    ap.add_argument("--n", type=int, default=3000, help="points before the split (3000)")
    ap.add_argument("--max-components", type=int, default=30)
    ap.add_argument("--levels", type=int, default=256,
                    help="levels of the likelihood ODE's grid (256)")
    ap.add_argument("--no-gmm", action="store_true")
    ap.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
    a = ap.parse_args()
    params = {}
    for p in a.param:
        k, v = p.split("=", 1)
        try:
            params[k] = ast.literal_eval(v)
        except (ValueError, SyntaxError):
            params[k] = v
    print("ScoreModel(%s)" % ", ".join("%s=%r" % kv for kv in sorted(params.items())))
    print("%-12s %4s %10s %7s %10s %4s %8s %10s"
          % ("set", "seed", "ours", "fit_s", "gmm_bic", "k", "smp_off", "std_ratio"))
    for name in a.sets:
        for seed in a.seeds:
            train, test = data_set(name, a.n, seed)
            t = time.perf_counter()
            m = sm.ScoreModel(random_state=seed, **params).fit(train)
            fit_s = time.perf_counter() - t
            ours = float(m.score_samples(test, levels=a.levels).mean())
            # Samples in the data's units: mean offset in data standard
            # deviations, and the ratio of the standard deviations.
            S = m.sample(1000, random_state=seed)
            off = float(np.max(np.abs(S.mean(0) - train.mean(0)) / train.std(0)))
            ratio = S.std(0) / train.std(0)
            k, g = (0, float("nan")) if a.no_gmm else gmm_bic(train, test, a.max_components, seed)
            print("%-12s %4d %10.4f %7.2f %10.4f %4d %8.3f %5.2f-%4.2f"
                  % (name, seed, ours, fit_s, g, k, off, ratio.min(), ratio.max()))
            sys.stdout.flush()


if __name__ == "__main__":
    main()

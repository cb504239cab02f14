#!/usr/bin/env python3
"""Baseline for the digits reference: a Gaussian mixture (scikit-learn).

50 components, full covariances, fitted by EM to the 1198 training rows on
the models' scale (pixels / 8 - 1); reg_covar is added to every covariance's
diagonal (needed: some pixels are constant and each component sees fewer
rows than dimensions). Draws 1000 samples and reports the same metrics as
digits_edm.py (pixel units, against the 599 held-out rows).

    /usr/bin/python3 bench/torch/digits_gmm_baseline.py --seed 0
"""
import argparse
import json
import os
import platform
import sys
import time

try:
    import sklearn
    from sklearn.mixture import GaussianMixture
except ImportError:
    sys.exit("digits_gmm_baseline.py needs scikit-learn (Debian: apt-get install python3-sklearn; "
             "run it with /usr/bin/python3)")

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import digits_common as dc  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--components", type=int, default=50)
    ap.add_argument("--reg-covar", type=float, default=1e-3,
                    help="added to covariance diagonals, model scale (default 1e-3)")
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--data-dir", default=dc.DEFAULT_DATA_DIR)
    ap.add_argument("--out-json", help="write the figures to this file")
    ap.add_argument("--save-samples", help="write the samples (pixel units) to this CSV file")
    a = ap.parse_args()

    train_px, heldout_px = dc.load_digits_split(a.data_dir)
    gmm = GaussianMixture(n_components=a.components, covariance_type="full",
                          reg_covar=a.reg_covar, max_iter=500, random_state=a.seed)
    t0 = time.perf_counter()
    gmm.fit(dc.pixels_to_model(train_px))
    fit_s = time.perf_counter() - t0
    x, _ = gmm.sample(a.samples)  # random_state=seed makes the draw repeatable
    samples_px = dc.model_to_pixels(x)
    if a.save_samples:
        np.savetxt(a.save_samples, samples_px, delimiter=",", fmt="%.6g")

    m = dc.evaluate(samples_px, heldout_px)
    res = {
        "script": "digits_gmm_baseline.py",
        "sklearn": sklearn.__version__,
        "python": platform.python_version(),
        "seed": a.seed, "components": a.components, "reg_covar": a.reg_covar,
        "converged": bool(gmm.converged_), "em_iterations": int(gmm.n_iter_),
        "n_train": int(len(train_px)), "n_heldout": int(len(heldout_px)),
        "fit_seconds": fit_s,
        **m,
        "train_rows_vs_heldout": dc.reference_figures(train_px, heldout_px),
    }
    print(f"GMM {a.components} full, reg_covar {a.reg_covar:g}, seed {a.seed}: "
          f"FD {m['fd']:.2f} (clipped to 0-16: {m['fd_clipped']:.2f})  "
          f"precision {m['precision']:.3f}  recall {m['recall']:.3f}  "
          f"(fit {fit_s:.1f} s, {gmm.n_iter_} EM iterations)")
    if a.out_json:
        with open(a.out_json, "w") as f:
            json.dump(res, f, indent=2)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Data, split and metrics shared by the digits reference scripts.

Needs NumPy only. The data are examples/data/digits.csv (1797 x 64 pixels,
integers 0-16); row i is held out if i % 3 == 2, training otherwise
(1198 training rows, 599 held out; see examples/data/README.md).

Metrics are computed in pixel units (0-16) against the held-out rows:
- Frechet distance between Gaussian fits (mean, covariance with n - 1),
  in double precision, matrix square roots through eigh of symmetric
  matrices;
- improved precision and recall (Kynkaanniemi et al. 2019), k = 3: a
  sample is precise if it lies within the k-NN radius of some real point
  (radius measured among the real points, the point itself excluded); a
  real point is recalled if it lies within the k-NN radius of some sample
  (radius measured among the samples).
"""
import os
import sys

try:
    import numpy as np
except ImportError:
    sys.exit("numpy is required (Debian: apt-get install python3-numpy)")

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA_DIR = os.path.normpath(os.path.join(HERE, "..", "..", "examples", "data"))
N_ROWS, DIM, PIXEL_MAX = 1797, 64, 16


def load_digits_split(data_dir=DEFAULT_DATA_DIR):
    """Returns (train, heldout) pixel arrays, float64, shapes (1198, 64) and (599, 64)."""
    path = os.path.join(data_dir, "digits.csv")
    x = np.loadtxt(path, delimiter=",", dtype=np.float64, ndmin=2)
    if x.shape != (N_ROWS, DIM):
        sys.exit(f"{path}: expected {N_ROWS} x {DIM} values, found {x.shape[0]} x {x.shape[1]}")
    idx = np.arange(N_ROWS)
    return x[idx % 3 != 2], x[idx % 3 == 2]


def pixels_to_model(p):
    """Pixel units 0-16 to the models' scale, [-1, 1]."""
    return p / 8.0 - 1.0


def model_to_pixels(x):
    return (x + 1.0) * 8.0


def _sqrtm_psd(c):
    w, v = np.linalg.eigh((c + c.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_distance(a, b):
    """||mu_a - mu_b||^2 + tr(Ca + Cb - 2 (Ca^1/2 Cb Ca^1/2)^1/2)."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    mu_a, mu_b = a.mean(0), b.mean(0)
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    s = _sqrtm_psd(ca)
    m = s @ cb @ s
    w = np.linalg.eigvalsh((m + m.T) / 2)
    tr_sqrt = np.sqrt(np.clip(w, 0, None)).sum()
    d = mu_a - mu_b
    return float(d @ d + np.trace(ca) + np.trace(cb) - 2 * tr_sqrt)


def _sq_dists(a, b):
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T
    return np.maximum(d, 0)


def _knn_radii_sq(x, k):
    d = _sq_dists(x, x)
    np.fill_diagonal(d, np.inf)  # the point itself does not count
    return np.partition(d, k - 1, axis=1)[:, k - 1]


def _coverage_of(points, centers, k):
    """Fraction of `points` inside the k-NN ball (among `centers`) of some center."""
    r = _knn_radii_sq(centers, k)
    d = _sq_dists(points, centers)
    return float((d <= r[None, :]).any(1).mean())


def precision_recall(real, fake, k=3):
    real = np.asarray(real, np.float64)
    fake = np.asarray(fake, np.float64)
    return _coverage_of(fake, real, k), _coverage_of(real, fake, k)


def evaluate(samples_pixels, heldout_pixels, k=3):
    """Metrics of samples (pixel units) against the held-out rows."""
    s = np.asarray(samples_pixels, np.float64)
    finite = np.isfinite(s).all(1)
    out = {"n_samples": int(len(s)), "n_nonfinite": int((~finite).sum())}
    s = s[finite]
    if len(s) <= k:
        out.update(fd=float("nan"), precision=float("nan"), recall=float("nan"))
        return out
    out["fd"] = frechet_distance(s, heldout_pixels)
    out["precision"], out["recall"] = precision_recall(heldout_pixels, s, k)
    out["fd_clipped"] = frechet_distance(np.clip(s, 0, PIXEL_MAX), heldout_pixels)
    return out


def reference_figures(train, heldout, k=3):
    """The same metrics for the training rows themselves (1198 'samples')."""
    fd = frechet_distance(train, heldout)
    p, r = precision_recall(heldout, train, k)
    return {"fd": fd, "precision": p, "recall": r}

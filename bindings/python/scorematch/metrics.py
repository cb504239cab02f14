"""How well generated points match real ones (``metrics.h``).

Every function takes the real and the generated points as (n, dim) array-likes
or :class:`Dataset` objects (whose points are used without a copy). Generated
points with a NaN or infinite coordinate are counted (``nonfinite``), never
dropped silently: they cover nothing and are not precise.
"""

import collections
import ctypes
from ctypes import byref, c_double, c_size_t

import numpy as np

from . import _ffi, errors
from ._base import call, count, fail, fptr, points, vector
from ._base import real as _float
from .data import Dataset, as_rng

__all__ = ["coverage", "precision", "coverage_precision", "per_mode_coverage", "prdc",
           "energy_distance", "mmd_rbf", "frechet_distance", "CoveragePrecision", "PRDC",
           "MMD"]

CoveragePrecision = collections.namedtuple("CoveragePrecision",
                                           "coverage precision nonfinite")
PRDC = collections.namedtuple("PRDC", "precision recall density coverage nonfinite")
MMD = collections.namedtuple("MMD", "mmd2 bandwidth nonfinite")


class _Points:
    """A float pointer (*data*), row count and dimension for a Dataset or an
    array, valid while this object lives: it holds what owns the memory (the
    Dataset's resource, not the Dataset, which may be closed meanwhile)."""

    __slots__ = ("keep", "data", "n", "dim")

    def __init__(self, x, name):
        if isinstance(x, Dataset):
            self.keep, addr, self.n, self.dim = x._points_of()
            self.data = ctypes.cast(addr, _ffi.c_float_p)
        else:
            a = points(x, name)
            self.keep = a
            self.n, self.dim = a.shape
            self.data = fptr(a)


def _pair(real, gen):
    r = _Points(real, "real")
    g = _Points(gen, "gen")
    if r.dim != g.dim:
        fail(errors.ShapeError, "real has dimension %d, gen has %d" % (r.dim, g.dim))
    return r, g


def coverage(real, gen, radius=0.15):
    """Fraction of real points with a generated point closer than *radius*
    (the lab's recall proxy)."""
    r, g = _pair(real, gen)
    out = c_double()
    call("sm_metric_coverage", r.data, r.n, g.data, g.n, r.dim, _float(radius, "radius"),
         byref(out), None)
    return out.value


def precision(real, gen, radius=0.15):
    """Fraction of generated points with a real point closer than *radius*."""
    r, g = _pair(real, gen)
    out = c_double()
    call("sm_metric_precision", r.data, r.n, g.data, g.n, r.dim, _float(radius, "radius"),
         byref(out), None)
    return out.value


def coverage_precision(real, gen, radius=0.15):
    """Both, in one call: a :class:`CoveragePrecision` (coverage, precision,
    nonfinite)."""
    r, g = _pair(real, gen)
    cov, prec, nf = c_double(), c_double(), c_size_t()
    call("sm_metric_coverage_precision", r.data, r.n, g.data, g.n, r.dim,
         _float(radius, "radius"), byref(cov), byref(prec), byref(nf))
    return CoveragePrecision(cov.value, prec.value, nf.value)


def per_mode_coverage(real, gen, radius=0.15, labels=None, n_modes=None):
    """Coverage of each label value: a float64 array of length *n_modes*
    (NaN for a label with no real point).

    *labels* default to the labels of *real* when it is a labelled
    :class:`Dataset`; *n_modes* to the largest label + 1."""
    if labels is None:
        if not isinstance(real, Dataset) or real.labels is None:
            fail(errors.InvalidArgumentError, "per_mode_coverage: no labels given and real "
                 "is not a labelled Dataset")
        labels = real.labels
    r, g = _pair(real, gen)
    lab = vector(labels, "labels", r.n, np.int32)
    if n_modes is None:
        n_modes = int(lab.max()) + 1 if lab.size else 0
    out = np.empty(count(n_modes, "n_modes"), dtype=np.float64)
    call("sm_metric_per_mode_coverage", r.data, lab.ctypes.data_as(_ffi.c_int32_p), r.n,
         g.data, g.n, r.dim, _float(radius, "radius"), out.ctypes.data_as(_ffi.c_double_p),
         out.shape[0], None)
    return out


def prdc(real, gen, k_pr=3, k_dc=5):
    """Improved precision/recall (Kynkäänniemi et al.) and density/coverage
    (Naeem et al.): a :class:`PRDC`."""
    r, g = _pair(real, gen)
    p, rc, d, c, nf = c_double(), c_double(), c_double(), c_double(), c_size_t()
    call("sm_metric_prdc", r.data, r.n, g.data, g.n, r.dim, count(k_pr, "k_pr"),
         count(k_dc, "k_dc"), byref(p), byref(rc), byref(d), byref(c), byref(nf))
    return PRDC(p.value, rc.value, d.value, c.value, nf.value)


def energy_distance(real, gen, max_points=0, rng=None):
    """Energy distance 2E|X-Y| - E|X-X'| - E|Y-Y'| (squared form; V-statistic).

    *max_points* > 0 subsamples larger sets with *rng* (an Rng, a seed, or
    None for a random seed)."""
    r, g = _pair(real, gen)
    mp = count(max_points, "max_points")
    gen_ = as_rng(rng) if mp else None
    out = c_double()
    call("sm_metric_energy_distance", r.data, r.n, g.data, g.n, r.dim, mp, gen_, byref(out),
         None)
    return out.value


def mmd_rbf(real, gen, bandwidth=None, max_points=0, rng=None):
    """Squared MMD with the Gaussian kernel: an :class:`MMD` (mmd2, bandwidth,
    nonfinite). ``bandwidth=None`` uses the median heuristic."""
    r, g = _pair(real, gen)
    mp = count(max_points, "max_points")
    gen_ = as_rng(rng) if mp else None
    h = 0.0 if bandwidth is None else _float(bandwidth, "bandwidth")
    m, bw, nf = c_double(), c_double(), c_size_t()
    call("sm_metric_mmd_rbf", r.data, r.n, g.data, g.n, r.dim, h, mp, gen_, byref(m),
         byref(bw), byref(nf))
    return MMD(m.value, bw.value, nf.value)


def frechet_distance(real, gen):
    """Fréchet distance between Gaussian fits of the two sets,
    |mu1 - mu2|^2 + tr(C1 + C2 - 2 (C1^1/2 C2 C1^1/2)^1/2), covariances with
    the 1/(n - 1) normalisation, computed in double.

    Generated rows with a non-finite value are left out; each set needs at
    least two points."""
    r, g = _pair(real, gen)
    out = c_double()
    call("sm_metric_frechet_distance", r.data, r.n, g.data, g.n, r.dim, byref(out), None)
    return out.value

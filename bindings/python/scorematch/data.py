"""Random numbers (:class:`Rng`), point sets (:class:`Dataset`) and the toy
distributions (``moons``, ``circles``, ``blobs``, ...)."""

import ctypes
import math
import os
from ctypes import byref, c_void_p

import numpy as np

from . import _ffi, errors
from ._base import (Handle, call, count, dptr, fail, fptr, inplace_points, out_array, path_arg,
                    points, real, vector)

__all__ = ["Rng", "Dataset", "write_csv", "one_hot", "moons", "circles", "blobs", "gaussian_mixture",
           "swiss_roll", "spirals", "checkerboard", "eight_gaussians", "pinwheel"]


# What the CSV readers do with a leading index column (SM_CSV_INDEX_*).
_INDEX_FLAGS = {"refuse": 0, "skip": 1, "keep": 2}


def _index_flags(index_column):
    try:
        return _INDEX_FLAGS[index_column]
    except (KeyError, TypeError):
        raise ValueError("index_column must be 'refuse', 'skip' or 'keep' (got %r)"
                         % (index_column,)) from None


class Rng(Handle):
    """Seedable, reproducible generator (``sm_rng``, xoshiro256**).

    ``Rng(seed)`` gives the same sequence for the same seed on every platform.
    ``Rng()`` without a seed takes 64 bits from ``os.urandom``.
    """

    _free_name = "sm_rng_free"

    def __init__(self, seed=None):
        if seed is None:
            seed = int.from_bytes(os.urandom(8), "little")
        out = c_void_p()
        call("sm_rng_new", byref(out), _seed(seed))
        self._adopt(out)

    def reseed(self, seed):
        """Restarts as if just created with *seed*."""
        call("sm_rng_reseed", self, _seed(seed))

    def clone(self):
        """An exact copy (same future sequence)."""
        out = c_void_p()
        call("sm_rng_clone", self, byref(out))
        return Rng._wrap(out)

    def split(self):
        """An independent stream (e.g. for another thread); advances this one."""
        out = c_void_p()
        call("sm_rng_split", self, byref(out))
        return Rng._wrap(out)

    def jump(self):
        """Advances by 2**128 draws."""
        call("sm_rng_jump", self)

    def next_u64(self):
        """Next raw 64-bit value (int)."""
        return call("sm_rng_next_u64", self)

    def uniform(self):
        """Uniform float in [0, 1) with 53 random bits."""
        return call("sm_rng_uniform", self)

    def below(self, bound):
        """Uniform int in [0, bound), without modulo bias."""
        return call("sm_rng_below", self, count(bound, "bound", 1))

    def normal(self):
        """Standard normal deviate (float)."""
        return call("sm_rng_normal", self)

    def normal_array(self, shape, mean=0.0, std=1.0, out=None):
        """A float32 array of *shape* filled with N(mean, std**2) deviates
        (or *out* filled in place)."""
        a = out_array(out, _shape(shape))
        call("sm_rng_fill_normal", self, fptr(a), a.size, real(mean, "mean"), real(std, "std"))
        return a

    def uniform_array(self, shape, lo=0.0, hi=1.0, out=None):
        """A float32 array of *shape* filled uniformly in [lo, hi)."""
        a = out_array(out, _shape(shape))
        call("sm_rng_fill_uniform", self, fptr(a), a.size, real(lo, "lo"), real(hi, "hi"))
        return a


def _seed(seed):
    return count(seed, "seed")


def _shape(shape):
    if isinstance(shape, (int, np.integer)):
        return (count(shape, "shape"),)
    return tuple(count(s, "shape") for s in shape)


def as_rng(rng):
    """An :class:`Rng` from an Rng, an int seed, or None (a fresh random seed)."""
    if isinstance(rng, Rng):
        return rng
    if rng is None or isinstance(rng, (int, np.integer)):
        return Rng(rng)
    raise TypeError("rng must be a scorematch.Rng, an int seed or None, not %s"
                    % type(rng).__name__)


class Dataset(Handle):
    """n points of dimension d, float32, row-major (``sm_dataset``).

    ``Dataset(data, labels=None, context=None)`` copies an (n, d) array-like
    (and one label and/or one context row per point). The library keeps its
    own copy; :meth:`to_numpy` returns a copy of it.
    """

    _free_name = "sm_dataset_free"

    def __init__(self, data, labels=None, context=None):
        a = points(data, "data")
        out = c_void_p()
        call("sm_dataset_new", byref(out), fptr(a), a.shape[0], a.shape[1])
        self._adopt(out)
        if labels is not None:
            self.set_labels(labels)
        if context is not None:
            self.set_context(context)

    # -- constructors -----------------------------------------------------
    @classmethod
    def from_csv(cls, path, index_column="refuse"):
        """Reads a CSV file (header and ``#`` comments allowed; see
        :attr:`header_rows` and :attr:`column_names`). Only a regular file is
        read: a pipe or a device raises :class:`Error` (use :meth:`parse_csv`
        on its bytes).

        *index_column* says what to do with a leading index column as pandas
        writes it without ``index=False`` (a header whose first field is
        empty, ``index`` or ``Unnamed: 0`` over the row numbers 0, 1, 2, ...
        or 1, 2, 3, ...): ``"refuse"`` (default: :class:`ParseError` naming
        the column), ``"skip"`` (drop it) or ``"keep"`` (read it as data)."""
        out = c_void_p()
        call("sm_dataset_read_csv_ex", byref(out), None, path_arg(path),
             _index_flags(index_column))
        return cls._wrap(out)

    @classmethod
    def parse_csv(cls, text, index_column="refuse"):
        """Parses CSV text (str or bytes) in memory (*index_column* as for
        :meth:`from_csv`)."""
        if isinstance(text, str):
            text = text.encode("utf-8")
        buf = bytes(text)
        out = c_void_p()
        call("sm_dataset_parse_csv_ex", byref(out), None, buf, len(buf),
             _index_flags(index_column))
        return cls._wrap(out)

    @staticmethod
    def read_csv_missing(path=None, text=None, index_column="refuse"):
        """Reads CSV with missing values (a file *path*, or *text* in memory):
        empty and NaN fields are missing. Returns an (n, d) float32 array with
        NaN at the missing entries (ready for :meth:`Sampler.impute`).
        *index_column* as for :meth:`from_csv`."""
        out, mask = c_void_p(), c_void_p()
        flags = _index_flags(index_column)
        if text is not None:
            buf = bytes(text.encode("utf-8") if isinstance(text, str) else text)
            call("sm_dataset_parse_csv_ex", byref(out), byref(mask), buf, len(buf), flags)
        else:
            call("sm_dataset_read_csv_ex", byref(out), byref(mask), path_arg(path), flags)
        ds = Dataset._wrap(out)
        x = ds.to_numpy()
        observed = np.empty(x.shape, dtype=np.uint8)
        if observed.nbytes:
            ctypes.memmove(observed.ctypes.data, mask.value, observed.nbytes)
        call("sm_free", mask)
        x[observed == 0] = np.nan
        return x

    def clone(self):
        """An independent copy (points, labels, standardization)."""
        out = c_void_p()
        call("sm_dataset_clone", self, byref(out))
        return Dataset._wrap(out)

    # toy generators as class methods: Dataset.moons(...) == moons(...)
    @classmethod
    def moons(cls, *args, **kwargs):
        """Same as :func:`scorematch.moons`."""
        return moons(*args, **kwargs)

    @classmethod
    def circles(cls, *args, **kwargs):
        """Same as :func:`scorematch.circles`."""
        return circles(*args, **kwargs)

    @classmethod
    def blobs(cls, *args, **kwargs):
        """Same as :func:`scorematch.blobs`."""
        return blobs(*args, **kwargs)

    @classmethod
    def gaussian_mixture(cls, *args, **kwargs):
        """Same as :func:`scorematch.gaussian_mixture`."""
        return gaussian_mixture(*args, **kwargs)

    @classmethod
    def swiss_roll(cls, *args, **kwargs):
        """Same as :func:`scorematch.swiss_roll`."""
        return swiss_roll(*args, **kwargs)

    @classmethod
    def spirals(cls, *args, **kwargs):
        """Same as :func:`scorematch.spirals`."""
        return spirals(*args, **kwargs)

    @classmethod
    def checkerboard(cls, *args, **kwargs):
        """Same as :func:`scorematch.checkerboard`."""
        return checkerboard(*args, **kwargs)

    @classmethod
    def eight_gaussians(cls, *args, **kwargs):
        """Same as :func:`scorematch.eight_gaussians`."""
        return eight_gaussians(*args, **kwargs)

    @classmethod
    def pinwheel(cls, *args, **kwargs):
        """Same as :func:`scorematch.pinwheel`."""
        return pinwheel(*args, **kwargs)

    # -- contents ---------------------------------------------------------
    @property
    def size(self):
        """Number of points n."""
        return call("sm_dataset_size", self)

    def __len__(self):
        return self.size

    @property
    def dim(self):
        """Dimension d."""
        return call("sm_dataset_dim", self)

    @property
    def shape(self):
        """(n, d)."""
        res = self._resource
        return (call("sm_dataset_size", res), call("sm_dataset_dim", res))

    @property
    def header_rows(self):
        """Number of lines the CSV reader skipped as a header (0 or 1; 0 for
        a data set not read from CSV)."""
        return call("sm_dataset_header_rows", self)

    @property
    def column_names(self):
        """The column names from the CSV header, as a list of str, or None
        when the data set has no header (see :attr:`header_rows`)."""
        names = [call("sm_dataset_column_name", self, j) for j in range(self.dim)]
        if not names or names[0] is None:
            return None
        return [n.decode("utf-8", "replace") for n in names]

    def _points_of(self):
        """``(res, address, n, d)``: the C points, valid while the caller
        holds *res* (the points never move)."""
        res = self._resource
        p = call("sm_dataset_data", res)
        return (res, ctypes.cast(p, c_void_p).value, call("sm_dataset_size", res),
                call("sm_dataset_dim", res))

    def to_numpy(self):
        """A copy of the points as an (n, d) float32 array."""
        res, addr, n, d = self._points_of()
        out = np.empty((n, d), dtype=np.float32)
        if out.nbytes:
            ctypes.memmove(out.ctypes.data, addr, out.nbytes)
        del res  # held until the copy is made
        return out

    def __array__(self, dtype=None, copy=None):
        a = self.to_numpy()
        return a if dtype is None else a.astype(dtype, copy=False)

    def to_csv(self, path):
        """Writes the points as CSV (``%.9g``, no header), through a temporary
        file that replaces *path* only once complete."""
        call("sm_dataset_write_csv", self, path_arg(path))

    @property
    def labels(self):
        """A copy of the labels (int32 array of length n), or None."""
        res = self._resource
        p = call("sm_dataset_labels", res)
        if not p:
            return None
        out = np.empty(call("sm_dataset_size", res), dtype=np.int32)
        if out.nbytes:
            ctypes.memmove(out.ctypes.data, p, out.nbytes)
        del res  # held until the copy is made
        return out

    def set_labels(self, labels):
        """Attaches one non-negative label per point (copied); None removes them."""
        if labels is None:
            call("sm_dataset_set_labels", self, None, 0)
            return
        lab = np.asarray(labels)
        if lab.dtype.kind not in "iub":
            raise TypeError("labels must be integers, not %s" % lab.dtype)
        if lab.size and (lab.min() < -2 ** 31 or lab.max() >= 2 ** 31):
            fail(errors.InvalidArgumentError, "labels must fit in int32")
        lab = vector(lab, "labels", dtype=np.int32)
        call("sm_dataset_set_labels", self, lab.ctypes.data_as(_ffi.c_int32_p), lab.shape[0])

    def set_context(self, context):
        """Attaches one context row per point ((n, c) floats, copied) that
        :meth:`Trainer.fit` conditions a network with a context on; None
        removes them. Copies of the data set keep them with their rows."""
        if context is None:
            call("sm_dataset_set_context", self, None, 0, 0)
            return
        c = np.ascontiguousarray(context, dtype=np.float32)
        if c.ndim == 1:
            c = c.reshape(-1, 1)
        if c.ndim != 2:
            fail(errors.ShapeError, "context must be (n, c), got shape %s" % (c.shape,))
        call("sm_dataset_set_context", self, fptr(c), c.shape[0], c.shape[1])

    @property
    def context(self):
        """A copy of the contexts ((n, c) float32 array), or None."""
        res = self._resource  # held while the points are copied
        p = call("sm_dataset_context", res)
        c = call("sm_dataset_context_dim", res)
        if not p or c == 0:
            return None
        out = np.empty((call("sm_dataset_size", res), c), dtype=np.float32)
        ctypes.memmove(out.ctypes.data, p, out.nbytes)
        return out

    @property
    def context_dim(self):
        """Width of the contexts; 0 without."""
        return call("sm_dataset_context_dim", self)

    @property
    def num_labels(self):
        """Largest label + 1; 0 without labels."""
        return call("sm_dataset_num_labels", self)

    # -- standardization --------------------------------------------------
    @property
    def sigma_data(self):
        """The data's spread: root mean square deviation of every value from
        its column's mean (EDM's sigma_data)."""
        out = ctypes.c_double()
        call("sm_dataset_sigma_data", self, ctypes.byref(out))
        return out.value

    def standardize(self):
        """Standardizes in place (per column, ddof=0) and keeps mean/std.
        Returns self, for chaining."""
        call("sm_dataset_standardize", self)
        return self

    @property
    def is_standardized(self):
        """Whether :meth:`standardize` was called."""
        return bool(call("sm_dataset_is_standardized", self))

    @property
    def standardization(self):
        """(mean, std): float32 arrays of length d (0 and 1 if never standardized)."""
        res = self._resource
        d = call("sm_dataset_dim", res)
        mean = np.empty(d, dtype=np.float32)
        std = np.empty(d, dtype=np.float32)
        call("sm_dataset_get_standardization", res, fptr(mean), fptr(std), d)
        return mean, std

    def unstandardize_points(self, x, inplace=False):
        """Maps points from the standardized space back: x*std + mean.

        Returns a new array, or changes *x* (a writable C-contiguous float32
        array) in place with ``inplace=True``."""
        return self._map_points(x, inplace, "sm_dataset_unstandardize_points")

    def standardize_points(self, x, inplace=False):
        """Maps points into the standardized space: (x - mean)/std."""
        return self._map_points(x, inplace, "sm_dataset_standardize_points")

    def _map_points(self, x, inplace, name):
        res = self._resource
        d = call("sm_dataset_dim", res)
        if inplace:
            a = inplace_points(x, "x", d)
        else:
            a = np.array(points(x, "x", d), dtype=np.float32, order="C", copy=True)
        call(name, res, fptr(a), a.shape[0], a.shape[1])
        return a

    def _describe(self, res):
        return "n=%d dim=%d%s" % (call("sm_dataset_size", res), call("sm_dataset_dim", res),
                                  " standardized" if call("sm_dataset_is_standardized", res)
                                  else "")


def write_csv(path, points_):
    """Writes an (n, d) array as CSV, in the format of :meth:`Dataset.to_csv`.
    A NaN or infinity raises :class:`NonFiniteError` and nothing is written
    (the reader would refuse it)."""
    a = points(points_, "points")
    call("sm_points_write_csv", path_arg(path), fptr(a), a.shape[0], a.shape[1])


# -- toy distributions ------------------------------------------------------
def one_hot(labels, num_classes):
    """(n, num_classes) float32 one-hot rows of int labels in [0, num_classes)
    (``sm_labels_one_hot``): contexts of a class-conditional network."""
    lab = np.asarray(labels)
    if lab.dtype.kind not in "iub":
        raise TypeError("labels must be integers, not %s" % lab.dtype)
    if lab.size and (lab.min() < -2 ** 31 or lab.max() >= 2 ** 31):
        fail(errors.InvalidArgumentError, "labels must fit in int32")
    lab = vector(lab.reshape(-1), "labels", dtype=np.int32)
    k = count(num_classes, "num_classes")
    out = np.empty((lab.shape[0], k), dtype=np.float32)
    call("sm_labels_one_hot", lab.ctypes.data_as(_ffi.c_int32_p), lab.shape[0], k, fptr(out))
    return out


def _toy(name, *args):
    out = c_void_p()
    call(name, byref(out), *args)
    return Dataset._wrap(out)


def moons(n, noise=0.0, shuffle=True, rng=None):
    """Two interleaving half circles (scikit-learn ``make_moons``); labels 0/1.
    *rng*: an :class:`Rng`, an int seed, or None for a random seed."""
    r = as_rng(rng)
    return _toy("sm_toy_moons", count(n, "n"), real(noise, "noise"),
                int(bool(shuffle)), r)


def circles(n, noise=0.0, factor=0.8, shuffle=True, rng=None):
    """A large circle around a smaller one (``make_circles``); labels 0/1."""
    r = as_rng(rng)
    return _toy("sm_toy_circles", count(n, "n"), real(noise, "noise"),
                real(factor, "factor"), int(bool(shuffle)), r)


def blobs(n, centers=3, dim=2, cluster_std=1.0, shuffle=True, rng=None):
    """Isotropic Gaussian blobs (``make_blobs``).

    *centers*: a count (centres drawn uniformly in [-10, 10]**dim) or a
    (k, dim) array of centres (then *dim* is taken from it)."""
    r = as_rng(rng)
    if isinstance(centers, (int, np.integer)):
        return _toy("sm_toy_blobs", count(n, "n"), count(dim, "dim"), None,
                    count(centers, "centers"), real(cluster_std, "cluster_std"),
                    int(bool(shuffle)), r)
    c = points(centers, "centers")
    return _toy("sm_toy_blobs", count(n, "n"), c.shape[1], fptr(c), c.shape[0],
                real(cluster_std, "cluster_std"), int(bool(shuffle)), r)


def gaussian_mixture(n, means, stds=None, weights=None, rng=None):
    """A Gaussian mixture: component c with probability weights[c]/sum,
    N(means[c], stds[c]**2 I). *means* is (k, dim)."""
    r = as_rng(rng)
    m = points(means, "means")
    k = m.shape[0]
    s = None if stds is None else vector(stds, "stds", k, np.float64)
    w = None if weights is None else vector(weights, "weights", k, np.float64)
    return _toy("sm_toy_gaussian_mixture", count(n, "n"), m.shape[1], fptr(m),
                None if s is None else dptr(s), None if w is None else dptr(w), k, r)


def swiss_roll(n, noise=0.0, rng=None, return_t=False):
    """The 2-D swiss roll. With ``return_t=True`` returns ``(dataset, t)``,
    t the float32 roll parameter of each point."""
    r = as_rng(rng)
    n = count(n, "n")
    t = np.empty(n, dtype=np.float32) if return_t else None
    ds = _toy("sm_toy_swiss_roll", n, real(noise, "noise"),
              None if t is None else fptr(t), r)
    return (ds, t) if return_t else ds


def spirals(n, noise=0.0, shuffle=True, rng=None):
    """Two interleaved spirals (FFJORD "2spirals"); labels 0/1."""
    r = as_rng(rng)
    return _toy("sm_toy_spirals", count(n, "n"), real(noise, "noise"),
                int(bool(shuffle)), r)


def checkerboard(n, shuffle=True, rng=None):
    """Uniform on the 8 black squares of a 4x4 board on [-4, 4)**2; labels 0-7."""
    r = as_rng(rng)
    return _toy("sm_toy_checkerboard", count(n, "n"), int(bool(shuffle)), r)


def eight_gaussians(n, radius=2.0 * math.sqrt(2.0), std=0.5 / math.sqrt(2.0), shuffle=True,
                    rng=None):
    """Eight Gaussians on a ring (defaults: FFJORD's radius 2*sqrt(2), std 0.5/sqrt(2))."""
    r = as_rng(rng)
    return _toy("sm_toy_eight_gaussians", count(n, "n"), real(radius, "radius"),
                real(std, "std"), int(bool(shuffle)), r)


def pinwheel(n, n_arms=5, radial_std=0.3, tangential_std=0.1, rate=0.25, shuffle=True,
             rng=None):
    """A pinwheel of curved arms (defaults: FFJORD's)."""
    r = as_rng(rng)
    return _toy("sm_toy_pinwheel", count(n, "n"), count(n_arms, "n_arms"),
                real(radial_std, "radial_std"), real(tangential_std, "tangential_std"),
                real(rate, "rate"), int(bool(shuffle)), r)

"""Internal helpers: owned C pointers, closed-handle checks, array conversion."""

import os

import numpy as np

from . import _ffi, errors


def fail(cls, message):
    """Raises *cls* (an :class:`errors.Error` subclass) for a check made in
    Python, with the library's text for its status."""
    lib = _ffi.lib()
    raise cls(cls.status, _ffi._decode(lib.sm_strerror(cls.status)), message)


class _Resource:
    """Owns one C pointer and frees it when the last reference goes.

    Handles that borrow other handles in C (a trainer borrows its network,
    schedule and optimizer) keep those resources in *deps*, and NumPy views
    over C memory keep the resource that owns the memory: the C object lives
    as long as anything that points into it.
    """

    __slots__ = ("ptr", "free", "deps", "__weakref__")

    def __init__(self, ptr, free, deps=()):
        self.ptr = ptr
        self.free = free
        self.deps = tuple(deps)

    def __del__(self):
        ptr, self.ptr = self.ptr, None
        if ptr:
            self.free(ptr)


class Handle:
    """Base of the wrapped handles: ``close()``, ``with`` support, ``__del__``.

    ``close()`` gives up this object's reference to the C object. The C
    object is freed at once unless something still uses it (a trainer or
    sampler built on it, a NumPy view of its memory); then it is freed when
    the last of those goes. A closed handle raises
    :class:`scorematch.StateError` when used.
    """

    _free_name = None
    _res = None

    def _adopt(self, ptr, deps=()):
        """Takes ownership of the ``c_void_p`` *ptr* returned by a constructor."""
        value = ptr.value if hasattr(ptr, "value") else ptr
        if not value:
            fail(errors.StateError, "%s: the library returned NULL" % type(self).__name__)
        self._res = _Resource(value, getattr(_ffi.lib(), self._free_name),
                              [d._resource for d in deps])
        return self

    @classmethod
    def _wrap(cls, ptr, deps=()):
        obj = cls.__new__(cls)
        obj._init_extra()
        return obj._adopt(ptr, deps)

    def _init_extra(self):
        """Per-class Python-side state for objects made by :meth:`_wrap`."""

    @property
    def _resource(self):
        res = self._res
        if res is None:
            fail(errors.StateError, "%s is closed" % type(self).__name__)
        return res

    @property
    def _ptr(self):
        return self._resource.ptr

    @property
    def closed(self):
        """True after :meth:`close`."""
        return self._res is None

    def close(self):
        """Releases the C object (see the class documentation). Idempotent."""
        self._res = None

    def __enter__(self):
        self._resource  # raises if closed
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __del__(self):
        self._res = None

    def __repr__(self):
        if self._res is None:
            return "<scorematch.%s (closed)>" % type(self).__name__
        return "<scorematch.%s %s>" % (type(self).__name__, self._describe())

    def _describe(self):
        return "at 0x%x" % self._res.ptr


def f32(x):
    """*x* as a C-contiguous float32 array (no copy when it already is one)."""
    return np.ascontiguousarray(x, dtype=np.float32)


def points(x, name, dim=None):
    """*x* as an (n, dim) C-contiguous float32 array; a Dataset is converted."""
    from .data import Dataset  # circular at import time
    if isinstance(x, Dataset):
        x = x.to_numpy()
    a = f32(x)
    if a.ndim != 2:
        fail(errors.ShapeError, "%s must be 2-D (n, dim), got shape %s" % (name, a.shape))
    if dim is not None and a.shape[1] != dim:
        fail(errors.ShapeError, "%s has dimension %d, expected %d" % (name, a.shape[1], dim))
    return a


def contexts(ctx, name, width, n=None):
    """*ctx* as an (rows, width) C-contiguous float32 array; a 1-D *ctx* of
    length *width* is one row, repeated *n* times when *n* is given."""
    a = f32(ctx)
    if a.ndim == 1:
        a = a.reshape(1, -1)
        if n is not None:
            a = np.ascontiguousarray(np.broadcast_to(a, (n, a.shape[1])))
    if a.ndim != 2:
        fail(errors.ShapeError, "%s must be 1-D (width) or 2-D (rows, width), got shape %s"
             % (name, a.shape))
    if a.shape[1] != width:
        fail(errors.ShapeError, "%s has width %d, the network's context has %d"
             % (name, a.shape[1], width))
    if n is not None and a.shape[0] != n:
        fail(errors.ShapeError, "%s has %d rows, expected %d" % (name, a.shape[0], n))
    return a


def vector(x, name, n=None, dtype=np.float32):
    """*x* as a 1-D contiguous array of *dtype*, of length *n* if given."""
    a = np.ascontiguousarray(x, dtype=dtype)
    if a.ndim != 1:
        fail(errors.ShapeError, "%s must be 1-D, got shape %s" % (name, a.shape))
    if n is not None and a.shape[0] != n:
        fail(errors.ShapeError, "%s has length %d, expected %d" % (name, a.shape[0], n))
    return a


def out_array(out, shape, name="out"):
    """A new float32 array of *shape*, or *out* checked to be a writable
    C-contiguous float32 array of exactly that shape (filled in place)."""
    if out is None:
        return np.empty(shape, dtype=np.float32)
    if not isinstance(out, np.ndarray):
        raise TypeError("%s must be a numpy.ndarray, not %s" % (name, type(out).__name__))
    if out.dtype != np.float32 or not out.flags.c_contiguous or not out.flags.writeable:
        raise TypeError("%s must be a writable C-contiguous float32 array" % name)
    if out.shape != tuple(shape):
        fail(errors.ShapeError, "%s has shape %s, expected %s" % (name, out.shape, tuple(shape)))
    return out


def inplace_points(x, name, dim=None):
    """*x* itself, checked to be a writable C-contiguous (n, dim) float32 array."""
    if not isinstance(x, np.ndarray) or x.dtype != np.float32 or \
            not x.flags.c_contiguous or not x.flags.writeable:
        raise TypeError("%s must be a writable C-contiguous float32 numpy array to be "
                        "changed in place" % name)
    return points(x, name, dim)


def fptr(a):
    return a.ctypes.data_as(_ffi.c_float_p)


def dptr(a):
    return a.ctypes.data_as(_ffi.c_double_p)


def path_arg(path):
    """A str/bytes/os.PathLike path as bytes for a ``const char *``."""
    p = os.fsencode(path)
    if b"\0" in p:
        fail(errors.InvalidArgumentError, "path contains a NUL byte")
    return p


def float_view(res, addr, shape, readonly=False):
    """A NumPy array over C memory at *addr* that keeps *res* alive (its base)."""
    return np.asarray(_BufferOwner(res, addr, shape, readonly))


class _BufferOwner:
    """The base object of a zero-copy view: holds the owning resource."""

    __slots__ = ("resource", "__array_interface__")

    def __init__(self, res, addr, shape, readonly):
        self.resource = res
        self.__array_interface__ = {"version": 3, "shape": tuple(shape), "typestr": "<f4",
                                    "data": (addr, bool(readonly))}


def count(v, name, lo=0):
    """*v* as a Python int in [lo, 2**64), for a ``size_t``/``uint64_t``.

    ctypes would silently wrap a negative int to a huge size; this refuses it
    (and floats) first."""
    import operator
    try:
        i = operator.index(v)
    except TypeError:
        raise TypeError("%s must be an integer, not %s" % (name, type(v).__name__)) from None
    if i < lo or i >= 2 ** 64:
        fail(errors.InvalidArgumentError, "%s must be >= %d, got %d" % (name, lo, i)
             if i < lo else "%s is too large: %d" % (name, i))
    return i


def real(v, name):
    """*v* as a Python float for a ``double``/``float`` argument."""
    try:
        return float(v)
    except (TypeError, ValueError):
        raise TypeError("%s must be a real number, not %s" % (name, type(v).__name__)) from None

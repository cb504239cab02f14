"""Internal helpers: owned C pointers, closed-handle checks, array conversion."""

import os
import signal
import threading

import numpy as np

from . import _ffi, errors


def fail(cls, message):
    """Raises *cls* (an :class:`errors.Error` subclass) for a check made in
    Python, with the library's text for its status."""
    lib = _ffi.lib()
    raise cls(cls.status, _ffi._decode(lib.sm_strerror(cls.status)), message)


class _Resource:
    """Owns one C pointer and frees it when the last reference goes.

    Everything the C object points to lives in *deps*, a dict keyed by the
    role of the borrowed thing ("net", "ema", "callback", ...): the
    resources of the handles it borrows (a trainer's network, schedule,
    optimizer and averaged network; a sampler's network and schedule) and
    the ctypes function objects whose addresses C keeps. A borrow set after
    construction (``Trainer.set_ema``) replaces its entry once C has let go
    of the previous one. NumPy views over C memory keep the resource that
    owns the memory, and every call into C keeps the resources of the
    handles it passes (:func:`call`): the C object lives as long as anything
    uses or points into it.

    A cycle collected by the garbage collector may finalize a borrower after
    what it borrows; that is safe because the library's ``sm_*_free``
    functions never touch the handles a trainer or sampler borrows.
    """

    __slots__ = ("ptr", "free", "deps", "__weakref__")

    def __init__(self, ptr, free, deps=None):
        self.ptr = ptr
        self.free = free
        self.deps = dict(deps or {})

    def keep(self, role, obj):
        """Keeps *obj* (a resource, a ctypes function ...) as the C object's
        *role*, in place of the previous one; None drops it. Call it once C
        points to *obj* (or no longer points to the previous one)."""
        if obj is None:
            self.deps.pop(role, None)
        else:
            self.deps[role] = obj

    def __del__(self):
        ptr, self.ptr = self.ptr, None
        if ptr:
            self.free(ptr)


def call(name, *args):
    """Calls the C function *name* of the library with *args*, where every
    :class:`Handle` (or :class:`_Resource`) is passed as its C pointer.

    This is the only way the bindings hand a C object to the library: the
    resources of all the handles passed are held by this frame until the C
    function returns, so that ``close()`` on another thread (ctypes releases
    the GIL during the call), or from a callback that C calls during it,
    only drops the handle's reference and the C object is freed after the
    call. A handle already closed raises :class:`scorematch.StateError`
    before anything is called."""
    held = [a._resource if isinstance(a, Handle) else a for a in args]
    return getattr(_ffi.lib(), name)(*[a.ptr if isinstance(a, _Resource) else a
                                       for a in held])


class Handle:
    """Base of the wrapped handles: ``close()``, ``with`` support, ``__del__``.

    ``close()`` gives up this object's reference to the C object. The C
    object is freed at once unless something still uses it (a call into the
    library in progress, on any thread or from one of its callbacks; a
    trainer or sampler built on it; a NumPy view of its memory); then it is
    freed when the last of those goes. A closed handle raises
    :class:`scorematch.StateError` when used.
    """

    _free_name = None
    _res = None

    def _adopt(self, ptr, **deps):
        """Takes ownership of the ``c_void_p`` *ptr* returned by a constructor.
        *deps* are the resources (or ctypes objects) the new C object points
        to, by role; pass the very resources the constructor was called with."""
        value = ptr.value if hasattr(ptr, "value") else ptr
        if not value:
            fail(errors.StateError, "%s: the library returned NULL" % type(self).__name__)
        self._res = _Resource(value, getattr(_ffi.lib(), self._free_name), deps)
        return self

    @classmethod
    def _wrap(cls, ptr, **deps):
        obj = cls.__new__(cls)
        obj._init_extra()
        return obj._adopt(ptr, **deps)

    def _init_extra(self):
        """Per-class Python-side state for objects made by :meth:`_wrap`."""

    @property
    def _resource(self):
        """The :class:`_Resource`; raises StateError when closed. Fetch it
        once into a local and pass that to :func:`call` when a method makes
        several calls: the C object then stays the same, and alive, until
        the method is done."""
        res = self._res
        if res is None:
            fail(errors.StateError, "%s is closed" % type(self).__name__)
        return res

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
        res = self._res
        if res is None:
            return "<scorematch.%s (closed)>" % type(self).__name__
        try:
            return "<scorematch.%s %s>" % (type(self).__name__, self._describe(res))
        except errors.Error:
            return "<scorematch.%s at 0x%x>" % (type(self).__name__, res.ptr)

    def _describe(self, res):
        return "at 0x%x" % res.ptr


def expect(obj, cls, name):
    """*obj*, checked to be a *cls* handle: :func:`call` passes any handle
    as a bare pointer, so one of another kind (or an int) must never reach
    a C parameter of this kind."""
    if not isinstance(obj, cls):
        raise TypeError("%s must be a scorematch.%s, not %s"
                        % (name, cls.__name__, type(obj).__name__))
    return obj


class CallState:
    """What the C callbacks of one call into the library tell that call:
    the exception a Python callback raised (*exc*), whether it asked to stop
    (*stop*) and whether Ctrl-C was pressed (*sigint*)."""

    __slots__ = ("exc", "stop", "sigint")

    def __init__(self):
        self.exc = None
        self.stop = False
        self.sigint = False

    def reraise(self):
        """After the C call: raises the callback's exception (with its own
        traceback), or KeyboardInterrupt after a Ctrl-C."""
        exc, self.exc = self.exc, None
        if exc is not None:
            raise exc
        if self.sigint:
            raise KeyboardInterrupt


def guarded(fn, get_state):
    """The Python function behind a ctypes callback: returns 0 to let C go
    on, 1 to make it stop.

    It calls ``fn(*args)`` (a true result asks C to stop) and never lets an
    exception unwind through C, where ctypes would only print it: the
    exception is kept in the :class:`CallState` that ``get_state()`` returns
    (the call in progress) and C is asked to stop. After a Ctrl-C (see
    :func:`deferred_sigint`) it asks C to stop without calling *fn*."""
    def thunk(*args):
        state = get_state()
        try:
            if state.sigint:
                return 1
            if fn(*args):
                state.stop = True
                return 1
            return 0
        except BaseException as exc:  # noqa: B902 -- includes KeyboardInterrupt
            if state.exc is None:
                state.exc = exc
            return 1
    return thunk


class deferred_sigint:
    """Context manager around a C call that makes callbacks: on the main
    thread, while Python's default SIGINT handler is installed, Ctrl-C only
    sets ``state.sigint`` during the call (the next callback then asks C to
    stop and :meth:`CallState.reraise` raises KeyboardInterrupt).

    The default handler would raise KeyboardInterrupt wherever the main
    thread runs Python code next, which may be the entry of a callback,
    outside its ``try``, where ctypes would only print it."""

    def __init__(self, state):
        self.state = state
        self.old = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread() and \
                signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            state = self.state

            def on_sigint(_signum, _frame):
                state.sigint = True
            self.old = signal.signal(signal.SIGINT, on_sigint)
        return self.state

    def __exit__(self, *exc):
        if self.old is not None:
            signal.signal(signal.SIGINT, self.old)
            self.old = None
        return False


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

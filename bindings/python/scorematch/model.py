"""Model files (``model.h``): a network, its noise ladder and optionally the
optimizer's state, to a file or to bytes and back.

Available when the loaded library exports ``sm_model_save`` (see
:func:`available`); otherwise the functions raise :class:`NotImplementedError`.
"""

import collections
import ctypes
from ctypes import byref, c_size_t, c_void_p

from . import _ffi
from ._base import call, path_arg
from .learning import Net, Optim, Schedule

__all__ = ["Model", "available", "save", "save_bytes", "load", "load_bytes"]

Model = collections.namedtuple("Model", "net schedule optim")
Model.__doc__ = "A loaded model: Net, Schedule and an Optim or None."


def available():
    """Whether the loaded library has the model-file functions."""
    return _ffi.has("sm_model_save")


def _need():
    if not available():
        raise NotImplementedError("this libscorematch (%s) has no model files (sm_model_*)"
                                  % _ffi.library_path())
    return _ffi.lib()


def _args(net, schedule, optim):
    if not isinstance(net, Net) or not isinstance(schedule, Schedule) or \
            (optim is not None and not isinstance(optim, Optim)):
        raise TypeError("expected (net: Net, schedule: Schedule, optim: Optim or None)")
    return net, schedule, optim


def save(path, net, schedule, optim=None):
    """Saves *net*, *schedule* and optionally *optim*'s state to *path*
    (atomically: a temporary file renamed over *path*)."""
    _need()
    call("sm_model_save", path_arg(path), *_args(net, schedule, optim))


def save_bytes(net, schedule, optim=None):
    """The bytes :func:`save` would write."""
    _need()
    buf, n = c_void_p(), c_size_t()
    call("sm_model_save_buffer", *_args(net, schedule, optim), byref(buf), byref(n))
    try:
        return ctypes.string_at(buf.value, n.value) if n.value else b""
    finally:
        call("sm_free", buf)


def _wrap(net, sched, opt):
    n, s = Net._wrap(net), Schedule._wrap(sched)
    o = Optim._wrap(opt) if opt.value else None
    if o is not None:
        o._n = n.num_params
    return Model(n, s, o)


def load(path):
    """Loads a model file: a :class:`Model` (net, schedule, optim or None)."""
    _need()
    net, sched, opt = c_void_p(), c_void_p(), c_void_p()
    call("sm_model_load", path_arg(path), byref(net), byref(sched), byref(opt))
    return _wrap(net, sched, opt)


def load_bytes(data):
    """Loads a model from bytes (or any buffer)."""
    _need()
    b = bytes(data)
    net, sched, opt = c_void_p(), c_void_p(), c_void_p()
    call("sm_model_load_buffer", b, len(b), byref(net), byref(sched), byref(opt))
    return _wrap(net, sched, opt)

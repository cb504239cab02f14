"""Noise ladders (:class:`Schedule`), the score network (:class:`Net`),
optimizers (:class:`Adam`, :class:`SGD`), the :class:`Trainer` (DSM or
sliced score matching), the :class:`Sampler` and the probability-flow
:func:`log_likelihood`."""

import collections
import ctypes
import operator
import signal
import threading
from ctypes import byref, c_double, c_size_t, c_void_p

import numpy as np

from . import _ffi, errors
from ._base import (Handle, contexts, count, dptr, fail, float_view, fptr, inplace_points, out_array,
                    points, real, vector)
from .data import Dataset, as_rng

__all__ = ["Schedule", "Net", "Layer", "Optim", "Adam", "SGD", "Trainer", "Sampler",
           "log_likelihood"]


# -- Schedule ----------------------------------------------------------------
class Schedule(Handle):
    """A noise ladder sigma_1 > ... > sigma_L (``sm_schedule``).

    ``Schedule(sigmas)`` copies a strictly decreasing positive array; see
    also :meth:`geometric` and :meth:`linear`.
    """

    _free_name = "sm_schedule_free"

    def __init__(self, sigmas):
        s = vector(sigmas, "sigmas")
        out = c_void_p()
        _ffi.lib().sm_schedule_new_from_array(byref(out), fptr(s), s.shape[0])
        self._adopt(out)

    @classmethod
    def from_array(cls, sigmas):
        """Same as ``Schedule(sigmas)``."""
        return cls(sigmas)

    @classmethod
    def geometric(cls, sigma_max=1.0, sigma_min=0.01, levels=10):
        """sigma_i = sigma_max*(sigma_min/sigma_max)**((i-1)/(L-1)); the lab's ladder
        by default."""
        out = c_void_p()
        _ffi.lib().sm_schedule_new_geometric(byref(out), real(sigma_max, "sigma_max"),
                                             real(sigma_min, "sigma_min"),
                                             count(levels, "levels"))
        return cls._wrap(out)

    @classmethod
    def linear(cls, sigma_max, sigma_min, levels):
        """Evenly spaced from sigma_max down to sigma_min."""
        out = c_void_p()
        _ffi.lib().sm_schedule_new_linear(byref(out), real(sigma_max, "sigma_max"),
                                          real(sigma_min, "sigma_min"),
                                          count(levels, "levels"))
        return cls._wrap(out)

    @classmethod
    def karras(cls, sigma_max, sigma_min, levels, rho=7.0):
        """Karras et al. (2022) grid: sigma**(1/rho) evenly spaced, crowding
        towards sigma_min; the ODE samplers' grid."""
        out = c_void_p()
        _ffi.lib().sm_schedule_new_karras(byref(out), real(sigma_max, "sigma_max"),
                                          real(sigma_min, "sigma_min"),
                                          count(levels, "levels"), real(rho, "rho"))
        return cls._wrap(out)

    @staticmethod
    def suggest_sigma_max(data, rng=None):
        """sigma_1 suggested for *data* (a :class:`Dataset` or (n, d) array):
        the largest pairwise distance (subsampled with *rng* above 2000 points)."""
        ds = data if isinstance(data, Dataset) else Dataset(data)
        r = as_rng(rng)
        out = c_double()
        _ffi.lib().sm_schedule_suggest_sigma_max(ds._ptr, r._ptr, byref(out))
        return out.value

    @property
    def levels(self):
        """L, the number of levels."""
        return _ffi.lib().sm_schedule_levels(self._ptr)

    def __len__(self):
        return self.levels

    def __getitem__(self, i):
        n = self.levels
        if isinstance(i, slice):
            return self.sigmas[i]
        j = operator.index(i)
        if j < 0:
            j += n
        if not 0 <= j < n:
            raise IndexError("Schedule index %d out of range (L = %d)" % (i, n))
        return float(_ffi.lib().sm_schedule_sigma(self._ptr, j))

    def __iter__(self):
        return iter(self.sigmas.tolist())

    @property
    def sigmas(self):
        """The ladder as a float32 array, largest first (a copy)."""
        n = self.levels
        out = np.empty(n, dtype=np.float32)
        _ffi.lib().sm_schedule_get_sigmas(self._ptr, fptr(out), n)
        return out

    def __array__(self, dtype=None, copy=None):
        a = self.sigmas
        return a if dtype is None else a.astype(dtype, copy=False)

    def _describe(self):
        s = self.sigmas
        return "L=%d %.4g..%.4g" % (len(s), s[0], s[-1])


# -- Net ---------------------------------------------------------------------
Layer = collections.namedtuple("Layer", "w_offset b_offset fan_in fan_out")
Layer.__doc__ = "Where one linear layer lives in the flat parameter buffer."


class Net(Handle):
    """Noise-conditioned MLP score network s(x, sigma) (``sm_net``).

    ``Net(dim, width=128, depth=3, rng=None, threads=1, parametrization="lab",
    sigma_data=None)``: *depth* hidden SiLU layers of *width* units, linear
    output of *dim* units; PyTorch's default initialisation drawn from *rng*
    (an :class:`Rng`, an int seed, or None for a random seed).
    *parametrization* is one of :attr:`PARAMETRIZATIONS`: ``"lab"`` (input
    x ‖ log sigma, the output is the score) or ``"edm"`` (the preconditioning
    of Karras et al. 2022 with *sigma_data*, measured from the data by
    :meth:`Trainer.fit` when None). *context_dim* > 0 adds a context input
    of that width (conditional generation: the passes take ``context=``, an
    (n, context_dim) array or one row for all; None is the null context,
    i.e. the unconditional score).
    """

    _free_name = "sm_net_free"
    #: The parametrizations, in the order of the C enumeration.
    PARAMETRIZATIONS = ("lab", "edm")

    def __init__(self, dim, width=128, depth=3, rng=None, threads=1, parametrization="lab",
                 sigma_data=None, context_dim=0):
        r = as_rng(rng)
        out = c_void_p()
        if parametrization not in self.PARAMETRIZATIONS:
            raise ValueError("parametrization must be one of %s (got %r)"
                             % (", ".join(self.PARAMETRIZATIONS), parametrization))
        opts = _ffi.NetOptions()
        _ffi.lib().sm_net_options_init(byref(opts))
        opts.dim = count(dim, "dim")
        opts.width = count(width, "width")
        opts.depth = count(depth, "depth")
        opts.parametrization = self.PARAMETRIZATIONS.index(parametrization)
        opts.sigma_data = 0.0 if sigma_data is None else real(sigma_data, "sigma_data")
        opts.context_dim = count(context_dim, "context_dim")
        _ffi.lib().sm_net_new_ex(byref(out), byref(opts), r._ptr)
        self._adopt(out)
        if threads != 1:
            self.threads = threads

    @property
    def parametrization(self):
        """``"lab"`` or ``"edm"``."""
        return self.PARAMETRIZATIONS[_ffi.lib().sm_net_parametrization(self._ptr)]

    @property
    def context_dim(self):
        """Width of the context input (0: none)."""
        return _ffi.lib().sm_net_context_dim(self._ptr)

    def _context(self, context, n):
        """The (n, context_dim) contexts of a pass, or None."""
        if context is None:
            return None
        return contexts(context, "context", self.context_dim, n)

    @property
    def sigma_data(self):
        """EDM: the data's spread sigma_data (0.0 while unknown; settable)."""
        return _ffi.lib().sm_net_sigma_data(self._ptr)

    @sigma_data.setter
    def sigma_data(self, value):
        _ffi.lib().sm_net_set_sigma_data(self._ptr, real(value, "sigma_data"))

    def set_normalization(self, shift, scale):
        """Attaches the data normalization (data = x * scale + shift per
        column; None, None removes it). Saved with the model."""
        lib = _ffi.lib()
        if shift is None and scale is None:
            lib.sm_net_set_normalization(self._ptr, None, None, 0)
            return
        sh = np.ascontiguousarray(shift, dtype=np.float32).reshape(-1)
        sc = np.ascontiguousarray(scale, dtype=np.float32).reshape(-1)
        if sh.shape != sc.shape:
            raise ValueError("shift and scale need the same length")
        lib.sm_net_set_normalization(self._ptr, fptr(sh), fptr(sc), sh.shape[0])

    @property
    def normalization(self):
        """``(shift, scale)`` float32 arrays, or None without a normalization."""
        lib = _ffi.lib()
        if not lib.sm_net_has_normalization(self._ptr):
            return None
        sh = np.empty(self.dim, np.float32)
        sc = np.empty(self.dim, np.float32)
        lib.sm_net_get_normalization(self._ptr, fptr(sh), fptr(sc), self.dim)
        return sh, sc

    def to_data_units(self, x):
        """A copy of the (n, dim) points *x* put in the data's units."""
        a = np.array(points(x, "x", self.dim), dtype=np.float32, copy=True)
        _ffi.lib().sm_net_to_data_units(self._ptr, fptr(a), a.shape[0], a.shape[1])
        return a

    def from_data_units(self, x):
        """A copy of the (n, dim) points *x* put in the network's units."""
        a = np.array(points(x, "x", self.dim), dtype=np.float32, copy=True)
        _ffi.lib().sm_net_from_data_units(self._ptr, fptr(a), a.shape[0], a.shape[1])
        return a

    def denoise(self, x, sigma, out=None, context=None):
        """The denoiser D(x, sigma) = x + sigma**2 * s(x, sigma) for (n, dim)
        points; *sigma* a scalar or one value per point; *context* as in
        :meth:`forward`."""
        a = points(x, "x", self.dim)
        o = out_array(out, a.shape)
        if np.ndim(sigma) == 0:
            s = np.full(a.shape[0], real(sigma, "sigma"), np.float32)
        else:
            s = self._sigmas(sigma, a.shape[0])
        c = self._context(context, a.shape[0])
        if c is None:
            _ffi.lib().sm_net_denoise(self._ptr, fptr(a), fptr(s), a.shape[0], a.shape[1],
                                      fptr(o))
        else:
            _ffi.lib().sm_net_denoise_cond(self._ptr, fptr(a), fptr(s), fptr(c), a.shape[0],
                                           a.shape[1], c.shape[1], fptr(o))
        return o

    def clone(self):
        """An independent copy (architecture, parameters, gradients, threads)."""
        out = c_void_p()
        _ffi.lib().sm_net_clone(self._ptr, byref(out))
        return Net._wrap(out)

    @property
    def dim(self):
        """Data dimension d."""
        return _ffi.lib().sm_net_dim(self._ptr)

    @property
    def width(self):
        """Hidden units per layer."""
        return _ffi.lib().sm_net_width(self._ptr)

    @property
    def depth(self):
        """Number of hidden layers."""
        return _ffi.lib().sm_net_depth(self._ptr)

    @property
    def num_params(self):
        """Length of the parameter and gradient buffers."""
        return _ffi.lib().sm_net_num_params(self._ptr)

    @property
    def threads(self):
        """Threads used by this network's passes (settable, 1 ... 256)."""
        return _ffi.lib().sm_net_threads(self._ptr)

    @threads.setter
    def threads(self, n):
        _ffi.lib().sm_net_set_threads(self._ptr, count(n, "threads"))

    def set_threads(self, n):
        """Same as ``net.threads = n``."""
        self.threads = n

    def reserve(self, batch):
        """Sizes the workspace for batches of up to *batch* rows."""
        _ffi.lib().sm_net_reserve(self._ptr, count(batch, "batch"))

    # -- parameters -------------------------------------------------------
    def _buffer(self, getter, readonly=False):
        res = self._resource
        p = getter(res.ptr)
        addr = ctypes.cast(p, c_void_p).value if p else None
        if not addr:
            fail(errors.StateError, "Net: the library returned no buffer")
        return float_view(res, addr, (_ffi.lib().sm_net_num_params(res.ptr),), readonly)

    @property
    def params(self):
        """The flat parameter buffer as a writable float32 NumPy *view* (no copy).

        Writing to it changes the network. The view keeps the C network
        alive, even after :meth:`close` or when this object is deleted."""
        return self._buffer(_ffi.lib().sm_net_params)

    @property
    def grads(self):
        """The flat gradient buffer as a writable float32 NumPy view (no copy)."""
        return self._buffer(_ffi.lib().sm_net_grads)

    def get_params(self):
        """A copy of the parameters."""
        return self.params.copy()

    def set_params(self, values):
        """Copies *values* (length :attr:`num_params`) into the parameters."""
        v = vector(values, "values", self.num_params)
        self.params[:] = v

    def layer(self, i):
        """:class:`Layer` offsets and sizes of linear layer *i* (0 ... depth)."""
        w, b, fi, fo = c_size_t(), c_size_t(), c_size_t(), c_size_t()
        _ffi.lib().sm_net_layer(self._ptr, count(i, "layer"), byref(w), byref(b), byref(fi),
                                byref(fo))
        return Layer(w.value, b.value, fi.value, fo.value)

    def layer_params(self, i):
        """(W, b) of layer *i* as views into :attr:`params`: W is
        (fan_out, fan_in), PyTorch's ``nn.Linear.weight`` layout."""
        lay = self.layer(i)
        p = self.params
        w = p[lay.w_offset:lay.w_offset + lay.fan_out * lay.fan_in]
        return w.reshape(lay.fan_out, lay.fan_in), p[lay.b_offset:lay.b_offset + lay.fan_out]

    def copy_params_from(self, src):
        """Copies every parameter of *src* (same architecture) into this net."""
        _ffi.lib().sm_net_copy_params(self._ptr, src._ptr)

    def zero_grad(self):
        """Sets every gradient to zero."""
        _ffi.lib().sm_net_zero_grad(self._ptr)

    def ema_update(self, net, decay):
        """Moves this net's weights toward *net*'s: θ ← decay·θ + (1 − decay)·θ_net."""
        _ffi.lib().sm_net_ema_update(self._ptr, net._ptr, float(decay))

    # -- passes -----------------------------------------------------------
    def _sigmas(self, sigma, n):
        s = np.asarray(sigma, dtype=np.float32)
        if s.ndim == 0:
            s = np.full(n, s, dtype=np.float32)
        return vector(s, "sigma", n)

    def forward(self, x, sigma, out=None, context=None):
        """Scores s(x, sigma) for (n, dim) points *x*; *sigma* a scalar shared
        by all points or one value per point. Returns an (n, dim) float32
        array (*out* if given). A network with a context takes *context*:
        (n, context_dim) rows, or one row for every point; None means the
        null context (the unconditional score)."""
        lib = _ffi.lib()
        a = points(x, "x", self.dim)
        o = out_array(out, a.shape)
        c = self._context(context, a.shape[0])
        if c is not None:
            s = self._sigmas(sigma, a.shape[0])
            lib.sm_net_forward_cond(self._ptr, fptr(a), fptr(s), fptr(c), a.shape[0], a.shape[1],
                                    c.shape[1], fptr(o))
        elif np.ndim(sigma) == 0:
            lib.sm_net_forward_sigma(self._ptr, fptr(a), real(sigma, "sigma"), a.shape[0],
                                     a.shape[1], fptr(o))
        else:
            s = self._sigmas(sigma, a.shape[0])
            lib.sm_net_forward(self._ptr, fptr(a), fptr(s), a.shape[0], a.shape[1], fptr(o))
        return o

    __call__ = forward

    def jvp(self, x, sigma, v, context=None):
        """Score and Jacobian-vector product in x: returns ``(out, jv)``, two
        (n, dim) float32 arrays with out = s(x, sigma) and jv = (ds/dx)·v
        for every row (forward-mode, sigma held fixed).

        *sigma* is a scalar shared by all points or one value per point; *v*
        holds the (n, dim) tangent vectors. The divergence of the score is
        the sum of e_jᵀ·J·e_j over the basis vectors, or estimated as vᵀ·J·v
        with random v (Hutchinson). One thread. *context* as in
        :meth:`forward` (held fixed, like sigma)."""
        a = points(x, "x", self.dim)
        s = self._sigmas(sigma, a.shape[0])
        t = points(v, "v", self.dim)
        if t.shape != a.shape:
            fail(errors.ShapeError, "v has shape %s, x has %s" % (t.shape, a.shape))
        o = np.empty(a.shape, dtype=np.float32)
        jv = np.empty(a.shape, dtype=np.float32)
        c = self._context(context, a.shape[0])
        if c is None:
            _ffi.lib().sm_net_jvp(self._ptr, fptr(a), fptr(s), fptr(t), a.shape[0], a.shape[1],
                                  fptr(o), fptr(jv))
        else:
            _ffi.lib().sm_net_jvp_cond(self._ptr, fptr(a), fptr(s), fptr(c), fptr(t),
                                       a.shape[0], a.shape[1], c.shape[1], fptr(o), fptr(jv))
        return o, jv

    def forward_train(self, x, sigma, out=None):
        """Forward pass keeping the activations for :meth:`backward`
        (rows <= the reserved batch)."""
        a = points(x, "x", self.dim)
        s = self._sigmas(sigma, a.shape[0])
        o = out_array(out, a.shape)
        _ffi.lib().sm_net_forward_train(self._ptr, fptr(a), fptr(s), a.shape[0], a.shape[1],
                                        fptr(o))
        return o

    def backward(self, dout):
        """Back-propagates dL/d(out) of the last :meth:`forward_train` and adds
        dL/dtheta to :attr:`grads`."""
        d = points(dout, "dout", self.dim)
        _ffi.lib().sm_net_backward(self._ptr, fptr(d), d.shape[0], d.shape[1])

    def dsm_loss(self, x, sigma, eps, with_grad=False):
        """The sigma²-weighted DSM loss for given noise (mean over elements);
        with ``with_grad=True`` adds its gradient to :attr:`grads`."""
        a = points(x, "x", self.dim)
        s = self._sigmas(sigma, a.shape[0])
        e = points(eps, "eps", self.dim)
        if e.shape != a.shape:
            fail(errors.ShapeError, "eps has shape %s, x has %s" % (e.shape, a.shape))
        loss = c_double()
        _ffi.lib().sm_dsm_loss(self._ptr, fptr(a), fptr(s), fptr(e), a.shape[0], a.shape[1],
                               int(bool(with_grad)), byref(loss))
        return loss.value

    def ssm_loss(self, x, sigma, eps, v, with_grad=False):
        """The sigma²-weighted sliced score matching loss with variance
        reduction (Song et al., 2019) at x~ = x + sigma·eps:
        1/(n·dim) · sum_r sigma_r²·(v_rᵀ·J_r·v_r + ½‖s_r‖²), with s_r and
        J_r the score and its Jacobian at x~_r and *v* the (n, dim)
        projection vectors. Not bounded below by 0. With
        ``with_grad=True`` adds its gradient to :attr:`grads` (one thread)."""
        a = points(x, "x", self.dim)
        s = self._sigmas(sigma, a.shape[0])
        e = points(eps, "eps", self.dim)
        t = points(v, "v", self.dim)
        for name, arr in (("eps", e), ("v", t)):
            if arr.shape != a.shape:
                fail(errors.ShapeError, "%s has shape %s, x has %s" % (name, arr.shape, a.shape))
        loss = c_double()
        _ffi.lib().sm_ssm_loss(self._ptr, fptr(a), fptr(s), fptr(e), fptr(t), a.shape[0],
                               a.shape[1], int(bool(with_grad)), byref(loss))
        return loss.value

    def dsm_loss_per_level(self, schedule, x, rng=None):
        """The DSM loss at every level of *schedule* (fresh noise from *rng*
        per level, averaged over the (n, dim) points *x*): a float64 array of
        length ``schedule.levels``, largest sigma first. A level whose loss
        stays high while the others fall is a scale not yet learned."""
        if not isinstance(schedule, Schedule):
            raise TypeError("schedule must be a scorematch.Schedule, not %s"
                            % type(schedule).__name__)
        a = points(x, "x", self.dim)
        r = as_rng(rng)
        out = np.empty(schedule.levels, dtype=np.float64)
        _ffi.lib().sm_dsm_loss_per_level(self._ptr, schedule._ptr, fptr(a), a.shape[0],
                                         a.shape[1], r._ptr, dptr(out), out.shape[0])
        return out

    def _describe(self):
        return "%d -> %dx%d -> %d, %d params, %d thread(s)" % (
            self.dim + 1, self.width, self.depth, self.dim, self.num_params, self.threads)


# -- Optimizers --------------------------------------------------------------
def _num_params(x):
    return x.num_params if isinstance(x, Net) else count(x, "num_params", 1)


class Optim(Handle):
    """Base of the optimizers (``sm_optim``); use :class:`Adam` or :class:`SGD`.
    A loaded model's optimizer is an ``Optim``."""

    _free_name = "sm_optim_free"

    def __init__(self, *args, **kwargs):
        raise TypeError("use scorematch.Adam or scorematch.SGD")

    def _init_extra(self):
        self._n = None

    @property
    def lr(self):
        """Learning rate (settable)."""
        return _ffi.lib().sm_optim_lr(self._ptr)

    @lr.setter
    def lr(self, value):
        _ffi.lib().sm_optim_set_lr(self._ptr, real(value, "lr"))

    def set_clip_norm(self, max_norm):
        """Global-norm gradient clipping at *max_norm*; 0 turns it off."""
        _ffi.lib().sm_optim_set_clip_norm(self._ptr, real(max_norm, "max_norm"))

    @property
    def steps(self):
        """Updates applied so far."""
        return _ffi.lib().sm_optim_steps(self._ptr)

    @property
    def num_params(self):
        """Length of the buffers it updates (None if unknown: a loaded optimizer
        not yet used)."""
        return self._n

    def reset(self):
        """Clears the moments and the step count."""
        _ffi.lib().sm_optim_reset(self._ptr)

    def step(self, params, grads):
        """One update of *params* in place (a writable C-contiguous float32
        array, e.g. ``net.params``) from *grads*."""
        if not isinstance(params, np.ndarray) or params.dtype != np.float32 or \
                not params.flags.c_contiguous or not params.flags.writeable or params.ndim != 1:
            raise TypeError("params must be a writable 1-D C-contiguous float32 array")
        g = vector(grads, "grads", params.shape[0])
        _ffi.lib().sm_optim_step(self._ptr, fptr(params), fptr(g), params.shape[0])

    def step_net(self, net):
        """One update of *net*'s parameters from its gradients."""
        _ffi.lib().sm_optim_step_net(self._ptr, net._ptr)

    def _describe(self):
        return "lr=%g steps=%d" % (self.lr, self.steps)


class Adam(Optim):
    """Adam/AdamW: ``Adam(net_or_num_params, lr=1e-3, beta1=0.9, beta2=0.999,
    eps=1e-8, weight_decay=0.0)``."""

    def __init__(self, params, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
        n = _num_params(params)
        out = c_void_p()
        _ffi.lib().sm_optim_new_adam(byref(out), n, real(lr, "lr"), real(beta1, "beta1"),
                                     real(beta2, "beta2"), real(eps, "eps"),
                                     real(weight_decay, "weight_decay"))
        self._adopt(out)
        self._n = n


class SGD(Optim):
    """SGD with momentum: ``SGD(net_or_num_params, lr, momentum=0.0,
    weight_decay=0.0)``."""

    def __init__(self, params, lr, momentum=0.0, weight_decay=0.0):
        n = _num_params(params)
        out = c_void_p()
        _ffi.lib().sm_optim_new_sgd(byref(out), n, real(lr, "lr"), real(momentum, "momentum"),
                                    real(weight_decay, "weight_decay"))
        self._adopt(out)
        self._n = n


# -- Trainer -----------------------------------------------------------------
class Trainer(Handle):
    """Trainer over a network, its noise ladder and an optimizer
    (``sm_trainer``): ``Trainer(net, schedule, optim, batch_size=256,
    objective="dsm")``.

    *objective* is one of :attr:`OBJECTIVES` (see :attr:`objective`). The
    trainer keeps the three handles' C objects alive while it exists.
    """

    _free_name = "sm_trainer_free"
    #: The objectives, in the order of the C enumeration sm_objective.
    OBJECTIVES = ("dsm", "ssm")

    def __init__(self, net, schedule, optim, batch_size=256, objective="dsm"):
        if not isinstance(net, Net) or not isinstance(schedule, Schedule) or \
                not isinstance(optim, Optim):
            raise TypeError("Trainer(net: Net, schedule: Schedule, optim: Optim, batch_size)")
        out = c_void_p()
        _ffi.lib().sm_trainer_new(byref(out), net._ptr, schedule._ptr, optim._ptr,
                                  count(batch_size, "batch_size"))
        self._adopt(out, deps=(net, schedule, optim))
        self._init_extra()
        self.net, self.schedule, self.optim = net, schedule, optim
        self.batch_size = int(batch_size)
        self.objective = objective

    def _init_extra(self):
        self._objective = "dsm"

    @property
    def objective(self):
        """The loss minimised (settable): ``"dsm"`` (denoising score matching,
        the default) or ``"ssm"`` (sliced score matching with variance
        reduction, fresh projections each step; about twice the cost of a
        DSM step, on one thread). :meth:`step` and :meth:`fit` report the
        loss of this objective."""
        return self._objective

    @objective.setter
    def objective(self, name):
        if name not in self.OBJECTIVES:
            raise ValueError("objective must be one of %s (got %r)"
                             % (", ".join(self.OBJECTIVES), name))
        _ffi.lib().sm_trainer_set_objective(self._ptr, self.OBJECTIVES.index(name))
        self._objective = name

    #: How sigma is drawn in training, in the order of the C enumeration.
    SIGMA_SAMPLINGS = ("ladder", "lognormal")

    def set_sigma_sampling(self, kind, p_mean=-1.2, p_std=1.2):
        """``"ladder"`` (uniform among the schedule's levels) or
        ``"lognormal"`` (ln sigma ~ N(p_mean, p_std**2)). The default follows
        the network's parametrization."""
        if kind not in self.SIGMA_SAMPLINGS:
            raise ValueError("kind must be one of %s (got %r)"
                             % (", ".join(self.SIGMA_SAMPLINGS), kind))
        _ffi.lib().sm_trainer_set_sigma_sampling(self._ptr, self.SIGMA_SAMPLINGS.index(kind),
                                                 real(p_mean, "p_mean"), real(p_std, "p_std"))

    @property
    def sigma_sampling(self):
        """``"ladder"`` or ``"lognormal"``."""
        return self.SIGMA_SAMPLINGS[_ffi.lib().sm_trainer_sigma_sampling(self._ptr)]

    def set_lr_schedule(self, warmup_steps=0, total_steps=0, final_ratio=0.0):
        """Linear warm-up over *warmup_steps*, then a cosine decay to
        *final_ratio* times the rate at step *total_steps* (0: no decay)."""
        _ffi.lib().sm_trainer_set_lr_schedule(self._ptr, int(warmup_steps), int(total_steps),
                                              real(final_ratio, "final_ratio"))

    @property
    def context_dropout(self):
        """Networks with a context: the probability that a training row gets
        the null context instead of its own (settable, in [0, 1]; default
        0.1), so the network also learns the unconditional score that
        guidance needs. :meth:`fit` takes the contexts from the data set
        (:meth:`Dataset.set_context`), or one-hot rows of its labels."""
        return _ffi.lib().sm_trainer_context_dropout(self._ptr)

    @context_dropout.setter
    def context_dropout(self, p):
        _ffi.lib().sm_trainer_set_context_dropout(self._ptr, real(p, "p"))

    def set_ema(self, ema, decay=0.999):
        """Keeps *ema* (a Net of the same architecture, or None) as an
        exponential moving average of the trained weights after every step."""
        _ffi.lib().sm_trainer_set_ema(self._ptr, None if ema is None else ema._ptr, float(decay))
        self._ema = ema  # the C trainer borrows it

    def step(self, x, rng=None):
        """One optimisation step on the batch *x* ((n, dim), n <= batch_size);
        returns the batch loss."""
        a = points(x, "x")
        r = as_rng(rng)
        loss = c_double()
        _ffi.lib().sm_trainer_step(self._ptr, fptr(a), a.shape[0], a.shape[1], r._ptr,
                                   byref(loss))
        return loss.value

    def fit(self, data, steps, rng=None, callback=None, every=1):
        """Trains for *steps* steps on minibatches drawn from *data* (a
        :class:`Dataset` or an (n, dim) array); returns the mean loss of the
        last min(steps, 100) steps.

        *callback(step, total, loss)* is called after every *every*-th step
        (and the last). A true return value stops training early: ``fit``
        then returns normally with the steps taken so far kept. An exception
        raised by the callback stops training the same way and is re-raised
        here once the C call has returned. Ctrl-C (KeyboardInterrupt) also
        stops training at the next step.

        Raises :class:`DivergedError` (attribute ``final_loss``) if the loss
        or a gradient became non-finite; earlier steps are kept.
        """
        ds = data if isinstance(data, Dataset) else Dataset(data)
        r = as_rng(rng)
        steps = count(steps, "steps")
        every = count(every, "every", 1)
        state = {"exc": None, "stop": False, "sigint": False}

        def thunk(step, total, loss, _user_data):
            # Never let an exception unwind through C: keep it, ask C to stop.
            try:
                if state["sigint"]:
                    return 1
                if callback is not None and (step % every == 0 or step == total):
                    if callback(step, total, loss):
                        state["stop"] = True
                        return 1
                return 0
            except BaseException as exc:  # noqa: B902 -- includes KeyboardInterrupt
                state["exc"] = exc
                return 1

        # The thunk is always installed, so that Ctrl-C stops training between
        # two steps. Python's default SIGINT handler raises KeyboardInterrupt
        # wherever the main thread runs Python code next, which may be the
        # entry of the thunk, outside its try, where ctypes would only print
        # it: during the call a handler that merely sets a flag replaces the
        # default one, and KeyboardInterrupt is raised once C has returned.
        old_handler = None
        if threading.current_thread() is threading.main_thread() and \
                signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            def on_sigint(_signum, _frame):
                state["sigint"] = True
            old_handler = signal.signal(signal.SIGINT, on_sigint)
        # `cb` stays referenced until sm_trainer_fit returns (a local of this
        # frame); C keeps no pointer to it afterwards.
        cb = _ffi.TRAIN_CALLBACK(thunk)
        final = c_double(float("nan"))
        err = None
        try:
            _ffi.lib().sm_trainer_fit(self._ptr, ds._ptr, steps, r._ptr, cb, None,
                                      byref(final))
        except errors.Error as e:
            err = e
        finally:
            if old_handler is not None:
                signal.signal(signal.SIGINT, old_handler)
        exc, state["exc"] = state["exc"], None
        if exc is not None:
            raise exc  # the callback's own exception, with its traceback
        if state["sigint"]:
            raise KeyboardInterrupt
        if err is not None:
            if isinstance(err, errors.CancelledError) and state["stop"]:
                return final.value  # the callback asked to stop: not an error
            err.final_loss = final.value
            raise err
        return final.value

    def _describe(self):
        return "batch_size=%d objective=%s" % (self.batch_size, self._objective)


# -- Sampler -----------------------------------------------------------------
class Sampler(Handle):
    """Samplers of a score model (``sm_sampler``): annealed Langevin,
    predictor-corrector, probability-flow ODE (Euler, Heun).

    ``Sampler(net, schedule, kind="langevin", steps_per_scale=20, step_ratio=0.2,
    noise=True, final_denoise=False, init_normal=None, init_uniform=None,
    callback=None, corrector=None)``; every setting is also a settable
    attribute or method. *kind* is one of :attr:`KINDS`; *corrector* is
    ``(steps, snr)`` for ``"pc"``. The Langevin step at level i is
    alpha_i = step_ratio * sigma_i**2 (see :meth:`set_step_ncsn`).
    """

    _free_name = "sm_sampler_free"
    #: The kinds, in the order of the C enumeration sm_sampler_kind.
    KINDS = ("langevin", "pc", "ode-euler", "ode-heun", "edm-heun", "edm-stochastic",
             "dpmpp-2m")

    def __init__(self, net, schedule, steps_per_scale=None, step_ratio=None, noise=None,
                 final_denoise=None, init_normal=None, init_uniform=None, callback=None,
                 kind=None, corrector=None):
        if not isinstance(net, Net) or not isinstance(schedule, Schedule):
            raise TypeError("Sampler(net: Net, schedule: Schedule, ...)")
        out = c_void_p()
        _ffi.lib().sm_sampler_new(byref(out), net._ptr, schedule._ptr)
        self._adopt(out, deps=(net, schedule))
        self._init_extra()
        self.net, self.schedule = net, schedule
        self._dim = net.dim
        if steps_per_scale is not None:
            self.steps_per_scale = steps_per_scale
        if step_ratio is not None:
            self.step_ratio = step_ratio
        if noise is not None:
            self.noise = noise
        if final_denoise is not None:
            self.final_denoise = final_denoise
        if init_normal is not None:
            self.set_init_normal(init_normal)
        if init_uniform is not None:
            self.set_init_uniform(*init_uniform)
        if callback is not None:
            self.set_callback(callback)
        if kind is not None:
            self.kind = kind
        if corrector is not None:
            self.set_corrector(*corrector)

    @property
    def kind(self):
        """The algorithm: one of :attr:`KINDS` (default ``"langevin"``)."""
        return _ffi.lib().sm_sampler_kind_name(_ffi.lib().sm_sampler_get_kind(self._ptr)).decode()

    @kind.setter
    def kind(self, name):
        if name not in self.KINDS:
            raise ValueError("kind must be one of %s (got %r)" % (", ".join(self.KINDS), name))
        _ffi.lib().sm_sampler_set_kind(self._ptr, self.KINDS.index(name))

    def set_churn(self, churn=40.0, tmin=0.05, tmax=50.0, noise=1.003):
        """``"edm-stochastic"`` only: S_churn, the sigma range [S_tmin,
        S_tmax] where noise is added, and S_noise."""
        _ffi.lib().sm_sampler_set_churn(self._ptr, real(churn, "churn"), real(tmin, "tmin"),
                                        real(tmax, "tmax"), real(noise, "noise"))

    def set_context(self, context):
        """The condition of the samples for a network with a context: one row
        (context_dim values) for every point, or (n, context_dim) rows, one
        per point of the runs to come (copied); None clears it (the
        unconditional score)."""
        if context is None:
            _ffi.lib().sm_sampler_set_context(self._ptr, None, 0, 0)
            return
        c = contexts(context, "context", self.net.context_dim)
        _ffi.lib().sm_sampler_set_context(self._ptr, fptr(c), c.shape[0], c.shape[1])

    def set_guidance(self, w, sigma_lo=0.0, sigma_hi=float("inf")):
        """Classifier-free guidance: at sigma in [*sigma_lo*, *sigma_hi*] the
        denoiser is (1 + w)·D(x, sigma, c) − w·D(x, sigma, ∅), two network
        evaluations (counted in :attr:`nfe`); w = 0 is plain conditional
        sampling. Needs :meth:`set_context`."""
        _ffi.lib().sm_sampler_set_guidance(self._ptr, real(w, "w"), real(sigma_lo, "sigma_lo"),
                                           float(sigma_hi))

    def set_corrector(self, steps=1, snr=0.16):
        """Predictor-corrector only: *steps* Langevin corrector steps per level
        (0 for none) at target signal-to-noise ratio *snr*."""
        _ffi.lib().sm_sampler_set_corrector(self._ptr, count(steps, "steps"), real(snr, "snr"))

    def _init_extra(self):
        self._steps_per_scale = 20
        self._noise = True
        self._final_denoise = False
        self._callback = None
        self._thunk = None
        # Shared with the C callback thunk (not `self`: no reference cycle).
        self._cb_state = {"exc": None, "stop": False}

    @property
    def steps_per_scale(self):
        """Langevin steps per noise level T (default 20)."""
        return self._steps_per_scale

    @steps_per_scale.setter
    def steps_per_scale(self, t):
        _ffi.lib().sm_sampler_set_steps_per_scale(self._ptr, count(t, "steps_per_scale"))
        self._steps_per_scale = int(t)

    @property
    def step_ratio(self):
        """r = alpha_i / sigma_i**2 (default 0.2)."""
        return _ffi.lib().sm_sampler_step_ratio(self._ptr)

    @step_ratio.setter
    def step_ratio(self, r):
        _ffi.lib().sm_sampler_set_step_ratio(self._ptr, real(r, "step_ratio"))

    def set_step_ratio(self, r):
        """Same as ``sampler.step_ratio = r``."""
        self.step_ratio = r

    def set_steps_per_scale(self, t):
        """Same as ``sampler.steps_per_scale = t``."""
        self.steps_per_scale = t

    def set_step_ncsn(self, eps):
        """Sets the step by NCSN's epsilon: ratio = eps / sigma_L**2."""
        _ffi.lib().sm_sampler_set_step_ncsn(self._ptr, real(eps, "eps"))

    @property
    def noise(self):
        """Whether the sqrt(alpha)*z noise term is on (default True)."""
        return self._noise

    @noise.setter
    def noise(self, enabled):
        _ffi.lib().sm_sampler_set_noise(self._ptr, int(bool(enabled)))
        self._noise = bool(enabled)

    def set_noise(self, enabled):
        """Same as ``sampler.noise = enabled``."""
        self.noise = enabled

    @property
    def final_denoise(self):
        """Whether a final noise-free step x += sigma_L**2 s(x, sigma_L) is added."""
        return self._final_denoise

    @final_denoise.setter
    def final_denoise(self, enabled):
        _ffi.lib().sm_sampler_set_final_denoise(self._ptr, int(bool(enabled)))
        self._final_denoise = bool(enabled)

    def set_final_denoise(self, enabled):
        """Same as ``sampler.final_denoise = enabled``."""
        self.final_denoise = enabled

    def set_init_normal(self, std=1.0):
        """:meth:`run` starts from N(0, std**2 I). Default: std 1 for Langevin,
        sigma_1 (the VE prior) for the other kinds."""
        _ffi.lib().sm_sampler_set_init_normal(self._ptr, real(std, "std"))

    def set_init_uniform(self, lo, hi):
        """:meth:`run` starts from the uniform box [lo, hi)**dim."""
        _ffi.lib().sm_sampler_set_init_uniform(self._ptr, real(lo, "lo"), real(hi, "hi"))

    def set_callback(self, callback):
        """Sets (None clears) *callback(level, levels, sigma, x)*, called after
        each level with a read-only copy of the current (n, dim) points (and
        once more after the final denoising step, level = L). A true return
        value stops the run with :class:`CancelledError`; an exception is
        re-raised from :meth:`run`."""
        lib = _ffi.lib()
        if callback is None:
            lib.sm_sampler_set_callback(self._ptr, _ffi.SAMPLER_CALLBACK(), None)  # NULL
            self._callback = self._thunk = None
            return
        if not callable(callback):
            raise TypeError("callback must be callable or None")
        state = self._cb_state

        def thunk(level, levels, sigma, x, n, dim, _user_data):
            try:
                pts = np.ctypeslib.as_array(x, shape=(n, dim)).copy()
                pts.flags.writeable = False
                if callback(level, levels, sigma, pts):
                    state["stop"] = True
                    return 1
                return 0
            except BaseException as exc:  # noqa: B902
                state["exc"] = exc
                return 1

        t = _ffi.SAMPLER_CALLBACK(thunk)
        lib.sm_sampler_set_callback(self._ptr, t, None)
        # C keeps the function pointer: keep the thunk as long as it is set.
        self._callback, self._thunk = callback, t

    @property
    def callback(self):
        """The per-level callback, or None."""
        return self._callback

    @property
    def nfe(self):
        """Network evaluations per sample of the last run."""
        return _ffi.lib().sm_sampler_nfe(self._ptr)

    def run(self, n, rng=None, out=None):
        """Draws *n* samples; returns an (n, dim) float32 array (*out* if given).

        Raises :class:`DivergedError` (attribute ``samples``: the last finite
        state) if a point became non-finite."""
        dim = self._dim
        o = out_array(out, (count(n, "n"), dim))
        r = as_rng(rng)
        self._call(_ffi.lib().sm_sampler_run, r, o)
        return o

    def run_from(self, x, rng=None, inplace=False):
        """Runs the dynamics from the (n, dim) points *x*; returns the samples
        (a new array, or *x* itself with ``inplace=True``)."""
        dim = self._dim
        if inplace:
            a = inplace_points(x, "x", dim)
        else:
            a = np.array(points(x, "x", dim), dtype=np.float32, order="C", copy=True)
        self._call(_ffi.lib().sm_sampler_run_from, as_rng(rng), a)
        return a

    def _call(self, fn, rng, out):
        state = self._cb_state
        state["exc"], state["stop"] = None, False
        try:
            fn(self._ptr, rng._ptr, fptr(out), out.shape[0], out.shape[1])
        except errors.Error as err:
            exc, state["exc"] = state["exc"], None
            if exc is not None:
                raise exc from None  # the callback's own exception
            err.samples = out
            raise

    def _describe(self):
        return "T=%d ratio=%g noise=%s" % (self._steps_per_scale, self.step_ratio, self._noise)


# -- Likelihood --------------------------------------------------------------
def log_likelihood(net, grid, x, prior_std=0.0, probes=0, rng=None):
    """Log-density (nats) of each of the (n, dim) points *x* under the
    probability-flow ODE of *net*: a float64 array of n values.

    The ODE dx/dsigma = -sigma·s(x, sigma) is integrated with Heun's method
    over the levels of *grid* (a :class:`Schedule`, at least 2 levels; use a
    fine one, e.g. ``Schedule.karras(sigma_max, sigma_min, 100)``) from its
    smallest sigma up to its largest, where the prior N(0, prior_std²·I)
    takes over; ``prior_std <= 0`` means sigma_1 (the VE prior). What is
    measured is the density of the data blurred by the smallest sigma, in
    the units of the network's inputs.

    ``probes=0`` takes the exact trace of the Jacobian (dim Jacobian-vector
    products per evaluation); ``probes=k`` (1 ... 4096) Hutchinson's
    estimate with k Rademacher probes per point, drawn from *rng* (an
    :class:`Rng`, a seed, or None for a random seed; unused when exact).
    Raises :class:`DivergedError` if a trajectory became non-finite."""
    if not isinstance(net, Net) or not isinstance(grid, Schedule):
        raise TypeError("log_likelihood(net: Net, grid: Schedule, x, ...)")
    a = points(x, "x", net.dim)
    k = count(probes, "probes")
    r = as_rng(rng) if k else None
    out = np.empty(a.shape[0], dtype=np.float64)
    _ffi.lib().sm_log_likelihood(net._ptr, grid._ptr, fptr(a), a.shape[0], a.shape[1],
                                 real(prior_std, "prior_std"), k,
                                 r._ptr if r is not None else None, dptr(out))
    return out

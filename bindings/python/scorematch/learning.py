"""Noise ladders (:class:`Schedule`), the score network (:class:`Net`),
optimizers (:class:`Adam`, :class:`SGD`), the :class:`Trainer` (DSM or
sliced score matching), the :class:`Sampler` and the probability-flow
:func:`log_likelihood`."""

import collections
import ctypes
import operator
import warnings
from ctypes import byref, c_double, c_size_t, c_void_p

import numpy as np

from . import _ffi, errors
from ._base import (CallState, Handle, call, contexts, count, deferred_sigint, dptr, expect,
                    f32, fail, float_view, fptr, guarded, inplace_points, out_array, points,
                    real, vector)
from .data import Dataset, as_rng

__all__ = ["Schedule", "Net", "Layer", "Optim", "Adam", "SGD", "Trainer", "Sampler",
           "log_likelihood"]


# -- Schedule ----------------------------------------------------------------

def default_threads():
    """``sm_net_default_threads()``: the number of CPUs this process may use
    (online CPUs, fewer under a CPU affinity mask or a cgroup CPU quota),
    1 ... 256; a thread count for ``Net(..., threads=...)`` or
    ``ScoreModel(threads=...)``. Networks that use it run their passes on
    the calling thread alone while their threads would make them slower
    (other processes busy on the CPUs), with the same results."""
    return call("sm_net_default_threads")

class Schedule(Handle):
    """A noise ladder sigma_1 > ... > sigma_L (``sm_schedule``).

    ``Schedule(sigmas)`` copies a strictly decreasing positive array; see
    also :meth:`geometric` and :meth:`linear`.
    """

    _free_name = "sm_schedule_free"

    def __init__(self, sigmas):
        s = vector(sigmas, "sigmas")
        out = c_void_p()
        call("sm_schedule_new_from_array", byref(out), fptr(s), s.shape[0])
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
        call("sm_schedule_new_geometric", byref(out), real(sigma_max, "sigma_max"),
             real(sigma_min, "sigma_min"), count(levels, "levels"))
        return cls._wrap(out)

    @classmethod
    def linear(cls, sigma_max, sigma_min, levels):
        """Evenly spaced from sigma_max down to sigma_min."""
        out = c_void_p()
        call("sm_schedule_new_linear", byref(out), real(sigma_max, "sigma_max"),
             real(sigma_min, "sigma_min"), count(levels, "levels"))
        return cls._wrap(out)

    @classmethod
    def karras(cls, sigma_max, sigma_min, levels, rho=7.0):
        """Karras et al. (2022) grid: sigma**(1/rho) evenly spaced, crowding
        towards sigma_min; the ODE samplers' grid."""
        out = c_void_p()
        call("sm_schedule_new_karras", byref(out), real(sigma_max, "sigma_max"),
             real(sigma_min, "sigma_min"), count(levels, "levels"), real(rho, "rho"))
        return cls._wrap(out)

    @staticmethod
    def suggest_sigma_max(data, rng=None):
        """sigma_1 suggested for *data* (a :class:`Dataset` or (n, d) array):
        the largest pairwise distance (subsampled with *rng* above 2000 points)."""
        ds = data if isinstance(data, Dataset) else Dataset(data)
        r = as_rng(rng)
        out = c_double()
        call("sm_schedule_suggest_sigma_max", ds, r, byref(out))
        return out.value

    @property
    def levels(self):
        """L, the number of levels."""
        return call("sm_schedule_levels", self)

    def __len__(self):
        return self.levels

    def __getitem__(self, i):
        if isinstance(i, slice):
            return self.sigmas[i]
        res = self._resource
        n = call("sm_schedule_levels", res)
        j = operator.index(i)
        if j < 0:
            j += n
        if not 0 <= j < n:
            raise IndexError("Schedule index %d out of range (L = %d)" % (i, n))
        return float(call("sm_schedule_sigma", res, j))

    def __iter__(self):
        return iter(self.sigmas.tolist())

    @property
    def sigmas(self):
        """The ladder as a float32 array, largest first (a copy)."""
        return self._sigmas_of(self._resource)

    @staticmethod
    def _sigmas_of(res):
        n = call("sm_schedule_levels", res)
        out = np.empty(n, dtype=np.float32)
        call("sm_schedule_get_sigmas", res, fptr(out), n)
        return out

    def __array__(self, dtype=None, copy=None):
        a = self.sigmas
        return a if dtype is None else a.astype(dtype, copy=False)

    def _describe(self, res):
        s = self._sigmas_of(res)
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
        call("sm_net_options_init", byref(opts), _ffi.NetOptions.VERSION)
        opts.dim = count(dim, "dim")
        opts.width = count(width, "width")
        opts.depth = count(depth, "depth")
        opts.parametrization = self.PARAMETRIZATIONS.index(parametrization)
        opts.sigma_data = 0.0 if sigma_data is None else real(sigma_data, "sigma_data")
        opts.context_dim = count(context_dim, "context_dim")
        call("sm_net_new_ex", byref(out), byref(opts), r)
        self._adopt(out)
        if threads != 1:
            self.threads = threads

    @property
    def parametrization(self):
        """``"lab"`` or ``"edm"``."""
        return self.PARAMETRIZATIONS[call("sm_net_parametrization", self)]

    @property
    def context_dim(self):
        """Width of the context input (0: none)."""
        return call("sm_net_context_dim", self)

    def _context(self, context, n, res):
        """The (n, context_dim) contexts of a pass on *res* (this network's
        resource, held by the caller), or None."""
        if context is None:
            return None
        return contexts(context, "context", call("sm_net_context_dim", res), n)

    @property
    def sigma_data(self):
        """EDM: the data's spread sigma_data (0.0 while unknown; settable)."""
        return call("sm_net_sigma_data", self)

    @sigma_data.setter
    def sigma_data(self, value):
        call("sm_net_set_sigma_data", self, real(value, "sigma_data"))

    def _set_affine(self, setter, shift, scale):
        """Calls the C setter of a normalization (the data's or the
        contexts'): per-column shift and scale, or None, None to remove."""
        if shift is None and scale is None:
            call(setter, self, None, None, 0)
            return
        sh = np.ascontiguousarray(shift, dtype=np.float32).reshape(-1)
        sc = np.ascontiguousarray(scale, dtype=np.float32).reshape(-1)
        if sh.shape != sc.shape:
            raise ValueError("shift and scale need the same length")
        call(setter, self, fptr(sh), fptr(sc), sh.shape[0])

    def _get_affine(self, has, width, getter):
        """``(shift, scale)`` of a normalization through its C calls, or
        None when there is none."""
        res = self._resource
        if not call(has, res):
            return None
        n = call(width, res)
        sh = np.empty(n, np.float32)
        sc = np.empty(n, np.float32)
        call(getter, res, fptr(sh), fptr(sc), n)
        return sh, sc

    def set_normalization(self, shift, scale):
        """Attaches the data normalization (data = x * scale + shift per
        column; None, None removes it). Saved with the model."""
        self._set_affine("sm_net_set_normalization", shift, scale)

    @property
    def normalization(self):
        """``(shift, scale)`` float32 arrays, or None without a normalization."""
        return self._get_affine("sm_net_has_normalization", "sm_net_dim",
                                "sm_net_get_normalization")

    def set_context_normalization(self, shift, scale):
        """Attaches a context normalization: every context given to the
        network is mapped to (context - shift) / scale per column before
        it enters (the null context stays the null context); None, None
        removes it. Saved with the model."""
        self._set_affine("sm_net_set_context_normalization", shift, scale)

    @property
    def context_normalization(self):
        """``(shift, scale)`` float32 arrays of the context normalization,
        or None without one."""
        return self._get_affine("sm_net_has_context_normalization", "sm_net_context_dim",
                                "sm_net_get_context_normalization")

    def to_data_units(self, x):
        """A copy of the (n, dim) points *x* put in the data's units."""
        res = self._resource
        a = np.array(points(x, "x", call("sm_net_dim", res)), dtype=np.float32, copy=True)
        call("sm_net_to_data_units", res, fptr(a), a.shape[0], a.shape[1])
        return a

    def from_data_units(self, x):
        """A copy of the (n, dim) points *x* put in the network's units."""
        res = self._resource
        a = np.array(points(x, "x", call("sm_net_dim", res)), dtype=np.float32, copy=True)
        call("sm_net_from_data_units", res, fptr(a), a.shape[0], a.shape[1])
        return a

    def denoise(self, x, sigma, out=None, context=None):
        """The denoiser D(x, sigma) = x + sigma**2 * s(x, sigma) for (n, dim)
        points; *sigma* a scalar or one value per point; *context* as in
        :meth:`forward`."""
        res = self._resource
        a = points(x, "x", call("sm_net_dim", res))
        o = out_array(out, a.shape)
        if np.ndim(sigma) == 0:
            s = np.full(a.shape[0], real(sigma, "sigma"), np.float32)
        else:
            s = self._sigmas(sigma, a.shape[0])
        c = self._context(context, a.shape[0], res)
        if c is None:
            call("sm_net_denoise", res, fptr(a), fptr(s), a.shape[0], a.shape[1], fptr(o))
        else:
            call("sm_net_denoise_cond", res, fptr(a), fptr(s), fptr(c), a.shape[0], a.shape[1],
                 c.shape[1], fptr(o))
        return o

    def clone(self):
        """An independent copy (architecture, parameters, gradients, threads)."""
        out = c_void_p()
        call("sm_net_clone", self, byref(out))
        return Net._wrap(out)

    @property
    def dim(self):
        """Data dimension d."""
        return call("sm_net_dim", self)

    @property
    def width(self):
        """Hidden units per layer."""
        return call("sm_net_width", self)

    @property
    def depth(self):
        """Number of hidden layers."""
        return call("sm_net_depth", self)

    @property
    def num_params(self):
        """Length of the parameter and gradient buffers."""
        return call("sm_net_num_params", self)

    @property
    def threads(self):
        """Threads used by this network's passes (settable, 1 ... 256)."""
        return call("sm_net_threads", self)

    @threads.setter
    def threads(self, n):
        call("sm_net_set_threads", self, count(n, "threads"))

    def set_threads(self, n):
        """Same as ``net.threads = n``."""
        self.threads = n

    _KERNELS = {"auto": 0, "blis": 1}

    @property
    def kernels(self):
        """What runs this network's matrix products: "avx512", "avx2" (the
        library's own kernels) or "blis". Set it to "auto" (the default:
        the library's kernels where the CPU has them) or "blis"."""
        return _ffi._decode(call("sm_net_kernels", self))

    @kernels.setter
    def kernels(self, choice):
        if choice not in self._KERNELS:
            raise ValueError("kernels must be 'auto' or 'blis', not %r" % (choice,))
        call("sm_net_set_kernels", self, self._KERNELS[choice])

    def reserve(self, batch):
        """Sizes the workspace for batches of up to *batch* rows."""
        call("sm_net_reserve", self, count(batch, "batch"))

    # -- parameters -------------------------------------------------------
    def _buffer(self, getter, readonly=False):
        # The view's base holds `res`: the buffer never moves while the
        # network lives, and the network lives as long as the view.
        res = self._resource
        p = call(getter, res)
        addr = ctypes.cast(p, c_void_p).value if p else None
        if not addr:
            fail(errors.StateError, "Net: the library returned no buffer")
        return float_view(res, addr, (call("sm_net_num_params", res),), readonly)

    @property
    def params(self):
        """The flat parameter buffer as a writable float32 NumPy *view* (no copy).

        Writing to it changes the network. The view keeps the C network
        alive, even after :meth:`close` or when this object is deleted."""
        return self._buffer("sm_net_params")

    @property
    def grads(self):
        """The flat gradient buffer as a writable float32 NumPy view (no copy)."""
        return self._buffer("sm_net_grads")

    def get_weights(self):
        """A copy of the parameters (weights and biases), a float32 array of
        :attr:`num_params` values."""
        return self.params.copy()

    def set_weights(self, values):
        """Copies *values* (length :attr:`num_params`) into the parameters."""
        p = self.params
        p[:] = vector(values, "values", p.shape[0])

    def get_params(self):
        """Deprecated name of :meth:`get_weights` (scikit-learn's
        ``get_params`` means the constructor's parameters)."""
        warnings.warn("Net.get_params() is deprecated: use Net.get_weights()",
                      DeprecationWarning, stacklevel=2)
        return self.get_weights()

    def set_params(self, values):
        """Deprecated name of :meth:`set_weights`."""
        warnings.warn("Net.set_params() is deprecated: use Net.set_weights()",
                      DeprecationWarning, stacklevel=2)
        self.set_weights(values)

    def layer(self, i):
        """:class:`Layer` offsets and sizes of linear layer *i* (0 ... depth)."""
        w, b, fi, fo = c_size_t(), c_size_t(), c_size_t(), c_size_t()
        call("sm_net_layer", self, count(i, "layer"), byref(w), byref(b), byref(fi), byref(fo))
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
        call("sm_net_copy_params", self, expect(src, Net, "src"))

    def zero_grad(self):
        """Sets every gradient to zero."""
        call("sm_net_zero_grad", self)

    def ema_update(self, net, decay):
        """Moves this net's weights toward *net*'s: θ ← decay·θ + (1 − decay)·θ_net."""
        call("sm_net_ema_update", self, expect(net, Net, "net"), real(decay, "decay"))

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
        res = self._resource
        a = points(x, "x", call("sm_net_dim", res))
        o = out_array(out, a.shape)
        c = self._context(context, a.shape[0], res)
        if c is not None:
            s = self._sigmas(sigma, a.shape[0])
            call("sm_net_forward_cond", res, fptr(a), fptr(s), fptr(c), a.shape[0], a.shape[1],
                 c.shape[1], fptr(o))
        elif np.ndim(sigma) == 0:
            call("sm_net_forward_sigma", res, fptr(a), real(sigma, "sigma"), a.shape[0],
                 a.shape[1], fptr(o))
        else:
            s = self._sigmas(sigma, a.shape[0])
            call("sm_net_forward", res, fptr(a), fptr(s), a.shape[0], a.shape[1], fptr(o))
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
        res = self._resource
        d = call("sm_net_dim", res)
        a = points(x, "x", d)
        s = self._sigmas(sigma, a.shape[0])
        t = points(v, "v", d)
        if t.shape != a.shape:
            fail(errors.ShapeError, "v has shape %s, x has %s" % (t.shape, a.shape))
        o = np.empty(a.shape, dtype=np.float32)
        jv = np.empty(a.shape, dtype=np.float32)
        c = self._context(context, a.shape[0], res)
        if c is None:
            call("sm_net_jvp", res, fptr(a), fptr(s), fptr(t), a.shape[0], a.shape[1], fptr(o),
                 fptr(jv))
        else:
            call("sm_net_jvp_cond", res, fptr(a), fptr(s), fptr(c), fptr(t), a.shape[0],
                 a.shape[1], c.shape[1], fptr(o), fptr(jv))
        return o, jv

    def forward_train(self, x, sigma, out=None):
        """Forward pass keeping the activations for :meth:`backward`
        (rows <= the reserved batch)."""
        res = self._resource
        a = points(x, "x", call("sm_net_dim", res))
        s = self._sigmas(sigma, a.shape[0])
        o = out_array(out, a.shape)
        call("sm_net_forward_train", res, fptr(a), fptr(s), a.shape[0], a.shape[1], fptr(o))
        return o

    def backward(self, dout):
        """Back-propagates dL/d(out) of the last :meth:`forward_train` and adds
        dL/dtheta to :attr:`grads`."""
        res = self._resource
        d = points(dout, "dout", call("sm_net_dim", res))
        call("sm_net_backward", res, fptr(d), d.shape[0], d.shape[1])

    def dsm_loss(self, x, sigma, eps, with_grad=False):
        """The sigma²-weighted DSM loss for given noise (mean over elements);
        with ``with_grad=True`` adds its gradient to :attr:`grads`."""
        res = self._resource
        d = call("sm_net_dim", res)
        a = points(x, "x", d)
        s = self._sigmas(sigma, a.shape[0])
        e = points(eps, "eps", d)
        if e.shape != a.shape:
            fail(errors.ShapeError, "eps has shape %s, x has %s" % (e.shape, a.shape))
        loss = c_double()
        call("sm_dsm_loss", res, fptr(a), fptr(s), fptr(e), a.shape[0], a.shape[1],
             int(bool(with_grad)), byref(loss))
        return loss.value

    def ssm_loss(self, x, sigma, eps, v, with_grad=False):
        """The sigma²-weighted sliced score matching loss with variance
        reduction (Song et al., 2019) at x~ = x + sigma·eps:
        1/(n·dim) · sum_r sigma_r²·(v_rᵀ·J_r·v_r + ½‖s_r‖²), with s_r and
        J_r the score and its Jacobian at x~_r and *v* the (n, dim)
        projection vectors. Not bounded below by 0. With
        ``with_grad=True`` adds its gradient to :attr:`grads` (one thread)."""
        res = self._resource
        d = call("sm_net_dim", res)
        a = points(x, "x", d)
        s = self._sigmas(sigma, a.shape[0])
        e = points(eps, "eps", d)
        t = points(v, "v", d)
        for name, arr in (("eps", e), ("v", t)):
            if arr.shape != a.shape:
                fail(errors.ShapeError, "%s has shape %s, x has %s" % (name, arr.shape, a.shape))
        loss = c_double()
        call("sm_ssm_loss", res, fptr(a), fptr(s), fptr(e), fptr(t), a.shape[0], a.shape[1],
             int(bool(with_grad)), byref(loss))
        return loss.value

    def dsm_loss_per_level(self, schedule, x, rng=None):
        """The DSM loss at every level of *schedule* (fresh noise from *rng*
        per level, averaged over the (n, dim) points *x*): a float64 array of
        length ``schedule.levels``, largest sigma first. A level whose loss
        stays high while the others fall is a scale not yet learned."""
        if not isinstance(schedule, Schedule):
            raise TypeError("schedule must be a scorematch.Schedule, not %s"
                            % type(schedule).__name__)
        res, sres = self._resource, schedule._resource
        a = points(x, "x", call("sm_net_dim", res))
        r = as_rng(rng)
        out = np.empty(call("sm_schedule_levels", sres), dtype=np.float64)
        call("sm_dsm_loss_per_level", res, sres, fptr(a), a.shape[0], a.shape[1], r, dptr(out),
             out.shape[0])
        return out

    def _describe(self, res):
        d = call("sm_net_dim", res)
        return "%d -> %dx%d -> %d, %d params, %d thread(s)" % (
            d + 1, call("sm_net_width", res), call("sm_net_depth", res), d,
            call("sm_net_num_params", res), call("sm_net_threads", res))


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
        return call("sm_optim_lr", self)

    @lr.setter
    def lr(self, value):
        call("sm_optim_set_lr", self, real(value, "lr"))

    def set_clip_norm(self, max_norm):
        """Global-norm gradient clipping at *max_norm*; 0 turns it off."""
        call("sm_optim_set_clip_norm", self, real(max_norm, "max_norm"))

    @property
    def steps(self):
        """Updates applied so far."""
        return call("sm_optim_steps", self)

    @property
    def num_params(self):
        """Length of the buffers it updates (None if unknown: a loaded optimizer
        not yet used)."""
        return self._n

    def reset(self):
        """Clears the moments and the step count."""
        call("sm_optim_reset", self)

    def step(self, params, grads):
        """One update of *params* in place (a writable C-contiguous float32
        array, e.g. ``net.params``) from *grads*."""
        if not isinstance(params, np.ndarray) or params.dtype != np.float32 or \
                not params.flags.c_contiguous or not params.flags.writeable or params.ndim != 1:
            raise TypeError("params must be a writable 1-D C-contiguous float32 array")
        g = vector(grads, "grads", params.shape[0])
        call("sm_optim_step", self, fptr(params), fptr(g), params.shape[0])

    def step_net(self, net):
        """One update of *net*'s parameters from its gradients."""
        call("sm_optim_step_net", self, expect(net, Net, "net"))

    def _describe(self, res):
        return "lr=%g steps=%d" % (call("sm_optim_lr", res), call("sm_optim_steps", res))


class Adam(Optim):
    """Adam/AdamW: ``Adam(net_or_num_params, lr=1e-3, beta1=0.9, beta2=0.999,
    eps=1e-8, weight_decay=0.0)``."""

    def __init__(self, params, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
        n = _num_params(params)
        out = c_void_p()
        call("sm_optim_new_adam", byref(out), n, real(lr, "lr"), real(beta1, "beta1"),
             real(beta2, "beta2"), real(eps, "eps"), real(weight_decay, "weight_decay"))
        self._adopt(out)
        self._n = n


class SGD(Optim):
    """SGD with momentum: ``SGD(net_or_num_params, lr, momentum=0.0,
    weight_decay=0.0)``."""

    def __init__(self, params, lr, momentum=0.0, weight_decay=0.0):
        n = _num_params(params)
        out = c_void_p()
        call("sm_optim_new_sgd", byref(out), n, real(lr, "lr"), real(momentum, "momentum"),
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
        # The C trainer borrows these three: it keeps the very resources
        # that it was made with.
        nres, sres, ores = net._resource, schedule._resource, optim._resource
        out = c_void_p()
        call("sm_trainer_new", byref(out), nres, sres, ores, count(batch_size, "batch_size"))
        self._adopt(out, net=nres, schedule=sres, optim=ores)
        self._init_extra()
        self.net, self.schedule, self.optim = net, schedule, optim
        self.batch_size = int(batch_size)
        self.objective = objective

    def _init_extra(self):
        self._objective = "dsm"
        # The exception a reduction raised in the step or fit in progress.
        self._reduce_exc = [None]

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
        call("sm_trainer_set_objective", self, self.OBJECTIVES.index(name))
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
        call("sm_trainer_set_sigma_sampling", self, self.SIGMA_SAMPLINGS.index(kind),
             real(p_mean, "p_mean"), real(p_std, "p_std"))

    @property
    def sigma_sampling(self):
        """``"ladder"`` or ``"lognormal"``."""
        return self.SIGMA_SAMPLINGS[call("sm_trainer_sigma_sampling", self)]

    def set_lr_schedule(self, warmup_steps=0, total_steps=0, final_ratio=0.0):
        """Linear warm-up over *warmup_steps*, then a cosine decay to
        *final_ratio* times the rate at step *total_steps* (0: no decay)."""
        call("sm_trainer_set_lr_schedule", self, int(warmup_steps), int(total_steps),
             real(final_ratio, "final_ratio"))

    @property
    def context_dropout(self):
        """Networks with a context: the probability that a training row gets
        the null context instead of its own (settable, in [0, 1]; default
        0.1), so the network also learns the unconditional score that
        guidance needs. :meth:`fit` takes the contexts from the data set
        (:meth:`Dataset.set_context`), or one-hot rows of its labels."""
        return call("sm_trainer_context_dropout", self)

    @context_dropout.setter
    def context_dropout(self, p):
        call("sm_trainer_set_context_dropout", self, real(p, "p"))

    def set_ema(self, ema, decay=0.999):
        """Keeps *ema* (a Net of the same architecture, or None) as an
        exponential moving average of the trained weights after every step.
        The trainer keeps *ema*'s C network alive while it uses it, even
        after ``ema.close()``."""
        res = self._resource
        eres = None if ema is None else expect(ema, Net, "ema")._resource
        call("sm_trainer_set_ema", res, eres, real(decay, "decay"))
        # C now points to eres (or to nothing) and no longer to the previous
        # one, which is let go only now.
        res.keep("ema", eres)

    def set_grad_reduce(self, fn):
        """Data-parallel training: *fn(values)* makes the processes agree on
        the gradient before every update (``sm_trainer_set_grad_reduce``).

        Each step calls it twice: with a float32 copy of the network's
        gradient, then with a one-element array holding the step's loss. It
        must return (or write into *values* and return None) the **mean** of
        those values over all processes, the same on every process; with
        mpi4py::

            def mean(v):
                comm.Allreduce(MPI.IN_PLACE, v, op=MPI.SUM)
                v /= comm.size

        An exception raised by *fn* fails the step (parameters, optimizer
        and average as before it) and is re-raised by :meth:`step` or
        :meth:`fit`. ``None`` trains alone again. See :meth:`set_shard`.
        """
        res = self._resource
        if fn is None:
            call("sm_trainer_set_grad_reduce", res, _ffi.GRAD_REDUCE(), None)  # NULL
            res.keep("grad_reduce", None)
            return
        if not callable(fn):
            raise TypeError("fn must be callable or None")
        pending = self._reduce_exc

        def reduce(_user_data, buf, n):
            try:
                view = np.ctypeslib.as_array(buf, shape=(n,))
                values = view.copy()
                out = fn(values)
                if out is not None:
                    values = f32(out)
                    if values.shape != (n,):
                        raise ValueError("the reduction returned shape %s for %d values"
                                         % (values.shape, n))
                view[:] = values
                return 0
            except BaseException as exc:  # noqa: B902 -- never unwind through C
                if pending[0] is None:
                    pending[0] = exc
                return 1
        cfunc = _ffi.GRAD_REDUCE(reduce)
        call("sm_trainer_set_grad_reduce", res, cfunc, None)
        # C points to cfunc now, no longer to the previous one.
        res.keep("grad_reduce", cfunc)

    def set_shard(self, rank, ranks):
        """This process computes only slice *rank* of *ranks* of every batch
        while drawing the random numbers of the whole batch
        (``sm_trainer_set_shard``): with the same data, seed and settings on
        every process and :meth:`set_grad_reduce` averaging, the processes
        take the steps of one process training on the whole batch (up to
        float summation order). ``set_shard(0, 1)`` computes the whole batch
        again."""
        call("sm_trainer_set_shard", self, count(rank, "rank"), count(ranks, "ranks"))

    def _reraise_reduce(self, err):
        """After a C call: the reduction's exception (if any) wins over
        the library's error *err* it caused."""
        exc, self._reduce_exc[0] = self._reduce_exc[0], None
        if exc is not None:
            raise exc
        if err is not None:
            raise err

    def step(self, x, rng=None):
        """One optimisation step on the batch *x* ((n, dim), n <= batch_size);
        returns the batch loss."""
        a = points(x, "x")
        r = as_rng(rng)
        loss = c_double()
        err = None
        try:
            call("sm_trainer_step", self, fptr(a), a.shape[0], a.shape[1], r, byref(loss))
        except errors.Error as e:
            err = e
        self._reraise_reduce(err)
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
        state = CallState()

        def on_step(step, total, loss, _user_data):
            return callback is not None and (step % every == 0 or step == total) and \
                callback(step, total, loss)

        # The callback is always installed, so that Ctrl-C stops training
        # between two steps (deferred_sigint). `cb` stays referenced until
        # sm_trainer_fit returns (a local of this frame); C keeps no pointer
        # to it afterwards. The callback may close this trainer, the data or
        # the rng: call() holds their C objects until the C call returns.
        cb = _ffi.TRAIN_CALLBACK(guarded(on_step, lambda: state))
        final = c_double(float("nan"))
        err = None
        with deferred_sigint(state):
            try:
                call("sm_trainer_fit", self, ds, steps, r, cb, None, byref(final))
            except errors.Error as e:
                err = e
        state.reraise()  # the callback's own exception, or KeyboardInterrupt
        self._reraise_reduce(None)  # the reduction's exception
        if err is not None:
            if isinstance(err, errors.CancelledError) and state.stop:
                return final.value  # the callback asked to stop: not an error
            err.final_loss = final.value
            raise err
        return final.value

    def _describe(self, res):
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
        # The C sampler borrows both: it keeps the very resources that it
        # was made with.
        nres, sres = net._resource, schedule._resource
        out = c_void_p()
        call("sm_sampler_new", byref(out), nres, sres)
        self._adopt(out, net=nres, schedule=sres)
        self._init_extra()
        self.net, self.schedule = net, schedule
        self._dim = call("sm_net_dim", nres)
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
        return call("sm_sampler_kind_name", call("sm_sampler_get_kind", self)).decode()

    @kind.setter
    def kind(self, name):
        if name not in self.KINDS:
            raise ValueError("kind must be one of %s (got %r)" % (", ".join(self.KINDS), name))
        call("sm_sampler_set_kind", self, self.KINDS.index(name))

    def set_churn(self, churn=40.0, tmin=0.05, tmax=50.0, noise=1.003):
        """``"edm-stochastic"`` only: S_churn, the sigma range [S_tmin,
        S_tmax] where noise is added, and S_noise."""
        call("sm_sampler_set_churn", self, real(churn, "churn"), real(tmin, "tmin"),
             real(tmax, "tmax"), real(noise, "noise"))

    def set_context(self, context):
        """The condition of the samples for a network with a context: one row
        (context_dim values) for every point, or (n, context_dim) rows, one
        per point of the runs to come (copied); None clears it (the
        unconditional score)."""
        if context is None:
            call("sm_sampler_set_context", self, None, 0, 0)
            return
        c = contexts(context, "context", self.net.context_dim)
        call("sm_sampler_set_context", self, fptr(c), c.shape[0], c.shape[1])

    def set_guidance(self, w, sigma_lo=0.0, sigma_hi=float("inf")):
        """Classifier-free guidance: at sigma in [*sigma_lo*, *sigma_hi*] the
        denoiser is (1 + w)·D(x, sigma, c) − w·D(x, sigma, ∅), two network
        evaluations (counted in :attr:`nfe`); w = 0 is plain conditional
        sampling. Needs :meth:`set_context`."""
        call("sm_sampler_set_guidance", self, real(w, "w"), real(sigma_lo, "sigma_lo"),
             float(sigma_hi))

    def set_corrector(self, steps=1, snr=0.16):
        """Predictor-corrector only: *steps* Langevin corrector steps per level
        (0 for none) at target signal-to-noise ratio *snr*."""
        call("sm_sampler_set_corrector", self, count(steps, "steps"), real(snr, "snr"))

    def _init_extra(self):
        self._steps_per_scale = 20
        self._noise = True
        self._final_denoise = False
        self._hook = _LevelHook()

    @property
    def steps_per_scale(self):
        """Langevin steps per noise level T (default 20)."""
        return self._steps_per_scale

    @steps_per_scale.setter
    def steps_per_scale(self, t):
        call("sm_sampler_set_steps_per_scale", self, count(t, "steps_per_scale"))
        self._steps_per_scale = int(t)

    @property
    def step_ratio(self):
        """r = alpha_i / sigma_i**2 (default 0.2)."""
        return call("sm_sampler_step_ratio", self)

    @step_ratio.setter
    def step_ratio(self, r):
        call("sm_sampler_set_step_ratio", self, real(r, "step_ratio"))

    def set_step_ratio(self, r):
        """Same as ``sampler.step_ratio = r``."""
        self.step_ratio = r

    def set_steps_per_scale(self, t):
        """Same as ``sampler.steps_per_scale = t``."""
        self.steps_per_scale = t

    def set_step_ncsn(self, eps):
        """Sets the step by NCSN's epsilon: ratio = eps / sigma_L**2."""
        call("sm_sampler_set_step_ncsn", self, real(eps, "eps"))

    @property
    def noise(self):
        """Whether the sqrt(alpha)*z noise term is on (default True)."""
        return self._noise

    @noise.setter
    def noise(self, enabled):
        call("sm_sampler_set_noise", self, int(bool(enabled)))
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
        call("sm_sampler_set_final_denoise", self, int(bool(enabled)))
        self._final_denoise = bool(enabled)

    def set_final_denoise(self, enabled):
        """Same as ``sampler.final_denoise = enabled``."""
        self.final_denoise = enabled

    def set_init_normal(self, std=1.0):
        """:meth:`run` starts from N(0, std**2 I). Default: std 1 for Langevin,
        sigma_1 (the VE prior) for the other kinds."""
        call("sm_sampler_set_init_normal", self, real(std, "std"))

    def set_init_uniform(self, lo, hi):
        """:meth:`run` starts from the uniform box [lo, hi)**dim."""
        call("sm_sampler_set_init_uniform", self, real(lo, "lo"), real(hi, "hi"))

    def set_callback(self, callback):
        """Sets (None clears) *callback(level, levels, sigma, x)*, called after
        each level with a read-only copy of the current (n, dim) points (and
        once more after the final denoising step, level = L). A true return
        value stops the run with :class:`CancelledError`; an exception is
        re-raised from :meth:`run`. From within the callback the sampler may
        be closed (the free waits for the run) but not changed or rerun:
        that raises :class:`StateError`."""
        if callback is not None and not callable(callback):
            raise TypeError("callback must be callable or None")
        res = self._resource
        hook = self._hook
        if callback is None:
            call("sm_sampler_set_callback", res, _ffi.SAMPLER_CALLBACK(), None)  # NULL
        else:
            call("sm_sampler_set_callback", res, hook.c_function(res), None)
        hook.callback = callback

    @property
    def callback(self):
        """The per-level callback, or None."""
        return self._hook.callback

    @property
    def nfe(self):
        """Network evaluations per sample of the last run."""
        return call("sm_sampler_nfe", self)

    def run(self, n, rng=None, out=None):
        """Draws *n* samples; returns an (n, dim) float32 array (*out* if given).

        Raises :class:`DivergedError` (attribute ``samples``: the last finite
        state) if a point became non-finite."""
        o = out_array(out, (count(n, "n"), self._dim))
        r = as_rng(rng)
        self._call("sm_sampler_run", r, o)
        return o

    def run_from(self, x, rng=None, inplace=False):
        """Runs the dynamics from the (n, dim) points *x*; returns the samples
        (a new array, or *x* itself with ``inplace=True``)."""
        dim = self._dim
        if inplace:
            a = inplace_points(x, "x", dim)
        else:
            a = np.array(points(x, "x", dim), dtype=np.float32, order="C", copy=True)
        self._call("sm_sampler_run_from", as_rng(rng), a)
        return a

    def set_resample(self, r):
        """RePaint's resampling for :meth:`impute`: after each level's step the
        state jumps back up and the step is repeated, *r* times per level
        (about (1 + r) times the network evaluations)."""
        call("sm_sampler_set_resample", self, count(r, "r"))

    @property
    def resample(self):
        """Jumps back per level of :meth:`impute` (:meth:`set_resample`)."""
        return call("sm_sampler_resample", self)

    def set_impute_draws(self, k):
        """The number of imputations :meth:`impute` averages per point (1 to
        10000; default 1, one draw): the mean of *k* draws estimates the
        conditional mean, whose squared error is lower than one draw's (see
        ``sm_sampler_set_impute_draws``). *k* times the evaluations."""
        call("sm_sampler_set_impute_draws", self, count(k, "k"))

    @property
    def impute_draws(self):
        """Imputations averaged per point by :meth:`impute`
        (:meth:`set_impute_draws`)."""
        return call("sm_sampler_impute_draws", self)

    def impute(self, x, mask=None, rng=None, draws=None, return_spread=False):
        """Fills in the missing values of the (n, dim) points *x*; returns a new
        float32 array whose observed entries are those of *x*.

        *mask* is a boolean array of x's shape, True where *x* is observed;
        without it the NaN entries of *x* are the missing ones. Observed
        entries must be finite. Replacement method with the sampler's kind,
        context and guidance (see ``sm_sampler_impute``). *draws* (default:
        :attr:`impute_draws`) imputations are averaged for this call. With
        ``return_spread=True`` returns ``(x, spread)``: *spread* the
        standard deviation of the draws per entry (0 where observed, NaN
        where missing with one draw)."""
        a = np.array(x, dtype=np.float32, order="C", copy=True)
        if a.ndim != 2 or a.shape[1] != self._dim or a.shape[0] == 0:
            raise ValueError("x must have shape (n, %d) with n >= 1, not %s"
                             % (self._dim, a.shape))
        if mask is None:
            m = np.ascontiguousarray(~np.isnan(a), dtype=np.uint8)
        else:
            mask = np.asarray(mask)
            if mask.dtype != np.bool_ or mask.shape != a.shape:
                raise ValueError("mask must be a boolean array of shape %s" % (a.shape,))
            m = np.ascontiguousarray(mask, dtype=np.uint8)
        keep = None
        if draws is not None:
            keep = self.impute_draws
            self.set_impute_draws(draws)
        try:
            if return_spread:
                sp = np.zeros(a.shape, dtype=np.float32)
                self._call("sm_sampler_impute_spread", as_rng(rng), a, m, spread=sp)
                return a, sp
            self._call("sm_sampler_impute", as_rng(rng), a, m)
            return a
        finally:
            if keep is not None:
                self.set_impute_draws(keep)

    def _call(self, name, rng, out, mask=None, spread=None):
        res = self._resource
        hook = self._hook
        state = CallState()
        outer, hook.run = hook.run, state  # runs may nest (from a callback)
        err = None
        try:
            with deferred_sigint(state):
                try:
                    mid = () if mask is None else (mask.ctypes.data,)
                    if spread is not None:
                        mid = (fptr(spread),) + mid
                    call(name, res, rng, fptr(out), *mid, out.shape[0], out.shape[1])
                except errors.Error as e:
                    err = e
        finally:
            hook.run = outer
        state.reraise()  # the callback's own exception, or KeyboardInterrupt
        if err is not None:
            err.samples = out
            raise err

    def _describe(self, res):
        return "T=%d ratio=%g noise=%s" % (self._steps_per_scale,
                                           call("sm_sampler_step_ratio", res), self._noise)


class _LevelHook:
    """The per-level callback of one sampler.

    C keeps the address of the ctypes function until the sampler is freed or
    the callback cleared, so one ctypes function serves the sampler's whole
    life: it is kept in the sampler's resource and never replaced, and
    dispatches to the Python callback set now. Replacing or clearing the
    callback, even from within it, never frees code that C may still call
    or that is running."""

    __slots__ = ("callback", "run", "_cfunc")

    def __init__(self):
        self.callback = None
        self.run = None  # the CallState of the run in progress
        self._cfunc = None

    def c_function(self, res):
        """The ctypes function, made at the first call and kept by *res*."""
        if self._cfunc is None:
            self._cfunc = _ffi.SAMPLER_CALLBACK(guarded(self._level_done, self._state))
            res.keep("callback", self._cfunc)
        return self._cfunc

    def _state(self):
        # A callback outside run() cannot happen; a throwaway state then.
        return self.run if self.run is not None else CallState()

    def _level_done(self, level, levels, sigma, x, n, dim, _user_data):
        callback = self.callback
        if callback is None:
            return False
        pts = np.ctypeslib.as_array(x, shape=(n, dim)).copy()
        pts.flags.writeable = False
        return callback(level, levels, sigma, pts)


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
    nres = net._resource
    a = points(x, "x", call("sm_net_dim", nres))
    k = count(probes, "probes")
    r = as_rng(rng) if k else None
    out = np.empty(a.shape[0], dtype=np.float64)
    call("sm_log_likelihood", nres, grid, fptr(a), a.shape[0], a.shape[1],
         real(prior_std, "prior_std"), k, r, dptr(out))
    return out

"""A score-based generative model as one estimator, in scikit-learn's style.

:class:`ScoreModel` wires the low-level handles (data set, network, noise
levels, optimizer, trainer, sampler) the way ``smtool train`` and
``smtool sample`` do: data standardized column by column and the
normalization kept in the model, EDM preconditioning with log-normal noise
levels in training, and EDM's Heun sampler on an 18-level Karras grid (35
network evaluations). Data go in and samples come out in the data's units.
"""

import math
import sys
import time
from typing import Any, Dict, Optional, Tuple, Union

import numpy as np

from . import errors
from . import model as _model
from ._base import fail
from .data import Dataset, as_rng, one_hot
from .learning import Adam, Net, Sampler, Schedule, Trainer, log_likelihood

__all__ = ["ScoreModel", "NotFittedError"]

#: The constructor's parameters and their defaults, in order.
_PARAMS = (
    ("width", 128), ("depth", 3), ("parametrization", "edm"), ("sigma_data", None),
    ("steps", 3000), ("batch_size", 256), ("lr", 1e-3), ("warmup", 0), ("lr_decay", False),
    ("ema", None), ("p_mean", -1.2), ("p_std", 1.2), ("sigma_max", None), ("sigma_min", None),
    ("levels", None), ("sampler", None), ("standardize", True),
    ("standardize_context", True), ("context_dropout", 0.1), ("guidance", 0.0),
    ("guidance_interval", None), ("threads", 1), ("random_state", None), ("verbose", 0),
)

#: Anything NumPy can turn into an (n, d) array of numbers.
ArrayLike = Any
#: An int seed, an :class:`Rng`, or None (a seed from the operating system).
RandomState = Any


class NotFittedError(ValueError, AttributeError):
    """A method that needs a fitted model was called before :meth:`ScoreModel.fit`
    (both a ValueError and an AttributeError, as scikit-learn's)."""


def _points(X, what, min_samples=1, n_features=None, allow_nan=False, name="X"):
    """*X* as a C-contiguous (n, d) float32 array, checked the way
    scikit-learn's check_array does (shape, sparse and complex input,
    non-finite values), with scikit-learn's messages."""
    sparse = sys.modules.get("scipy.sparse")
    if sparse is not None and sparse.issparse(X):
        raise TypeError("ScoreModel.%s: sparse input is not supported; convert it to a "
                        "dense array first (X.toarray())" % what)
    x = np.asarray(X)
    if np.iscomplexobj(x):
        raise ValueError("ScoreModel.%s: Complex data not supported" % what)
    with np.errstate(over="ignore", invalid="ignore"):  # too large: inf, refused below
        x = np.ascontiguousarray(x, dtype=np.float32)  # TypeError for non-numbers
    if x.ndim != 2:
        raise ValueError("ScoreModel.%s: expected a 2D array, got %dD array instead; reshape "
                         "your data with %s.reshape(-1, 1) if it has a single feature or "
                         "%s.reshape(1, -1) if it is a single sample"
                         % (what, x.ndim, name, name))
    if x.shape[0] < min_samples:
        raise ValueError("ScoreModel.%s: Found array with %d sample(s) (shape=%r) while a "
                         "minimum of %d is required." % (what, x.shape[0], x.shape, min_samples))
    if x.shape[1] < 1:
        raise ValueError("ScoreModel.%s: Found array with 0 feature(s) (shape=%r) while a "
                         "minimum of 1 is required." % (what, x.shape))
    if n_features is not None and x.shape[1] != n_features:
        fail(errors.ShapeError, "ScoreModel.%s: X has %d features, but ScoreModel is "
             "expecting %d features as input" % (what, x.shape[1], n_features))
    if allow_nan:
        if np.isinf(x).any():
            fail(errors.NonFiniteError, "ScoreModel.%s: Input %s contains infinity or a value "
                 "too large for float32" % (what, name))
    elif not np.isfinite(x).all():
        fail(errors.NonFiniteError, "ScoreModel.%s: Input %s contains %s" % (
            what, name,
            "NaN" if np.isnan(x).any() else "infinity or a value too large for float32"))
    return x


class _Progress:
    """Training progress on stderr: a tqdm bar when tqdm is importable,
    otherwise a plain line about ten times per fit and one at the end."""

    def __init__(self, total):
        self.total, self.done = total, 0
        self.start = time.perf_counter()
        try:
            from tqdm import tqdm
        except ImportError:
            tqdm = None
        if tqdm is not None:
            self.bar = tqdm(total=total, desc="ScoreModel.fit", unit="step", file=sys.stderr)
            self.every = max(1, total // 200)
        else:
            self.bar = None
            self.every = max(1, total // 10)

    def __call__(self, step, total, loss):
        if self.bar is not None:
            self.bar.set_postfix(loss="%.4f" % loss, refresh=False)
            self.bar.update(step - self.done)
        else:
            print("ScoreModel.fit: step %d/%d loss %.4f (%.1f s)"
                  % (step, total, loss, time.perf_counter() - self.start),
                  file=sys.stderr, flush=True)
        self.done = step

    def close(self, mean_loss):
        if self.bar is not None:
            self.bar.close()
        else:
            print("ScoreModel.fit: %d steps in %.1f s, mean loss of the last steps %.4f"
                  % (self.done, time.perf_counter() - self.start, mean_loss),
                  file=sys.stderr, flush=True)


class ScoreModel:
    """Learns the score of a data set and draws new points from it.

    Parameters
    ----------
    width, depth : int
        Hidden units per layer and hidden layers of the MLP (128, 3).
    parametrization : {"edm", "lab"}
        EDM preconditioning (default) or the lab's network (x, ln sigma in,
        the score out).
    sigma_data : float or None
        The data's spread for EDM; None measures it on the training data.
    steps, batch_size, lr : int, int, float
        Training steps, batch size and Adam's learning rate (3000, 256, 1e-3).
    warmup : int
        Learning-rate warm-up steps (0).
    lr_decay : bool
        Cosine decay of the learning rate to 0 at the last step.
    ema : float or None
        Keep an exponential moving average of the weights with this decay
        (e.g. 0.999) and sample from it.
    p_mean, p_std : float
        EDM: ln sigma ~ N(p_mean, p_std**2) in training (-1.2, 1.2).
    sigma_max, sigma_min, levels : float, float, int or None
        The sampling grid: a Karras grid 80 -> 0.002 on 18 levels for EDM,
        the lab's geometric ladder 1 -> 0.01 on 10 levels for "lab".
    sampler : str or None
        A :attr:`Sampler.KINDS` name; None picks ``"edm-heun"`` for EDM and
        ``"langevin"`` for the lab's network.
    standardize : bool
        Train on columns centred and scaled to unit variance (default); the
        model keeps the normalization, so samples come back in data units.
    standardize_context : bool
        Conditional fits on ``context=``: the network maps every context to
        (context - mean) / std per column of the training contexts (std
        floored as :meth:`Dataset.standardize` does, so that a constant
        column is only centred) and keeps that in the model, so contexts
        are always given in their own units (default True). Class labels
        (``y``) become one-hot contexts and are never standardized.
    context_dropout : float
        Conditional fits: the probability that a training row gets the null
        context instead of its own (0.1), so that the network also learns
        the unconditional score that guidance and calls without a condition
        use. Unconditional fits ignore it.
    guidance : float
        Conditional models: classifier-free guidance weight w of
        :meth:`sample` and :meth:`impute` (0.0: plain conditional
        sampling); the denoiser becomes (1 + w)·D(x, σ, c) − w·D(x, σ, ∅),
        two network evaluations per step. Unconditional models ignore it.
    guidance_interval : (float, float) or None
        The σ range ``(sigma_lo, sigma_hi)`` (in the network's units) where
        guidance applies; None for every σ.
    threads : int
        Threads of the network's passes (1).
    random_state : int or None
        Seed of the initialization and training; None for a random one.
    verbose : int
        0 (default) prints nothing; 1 shows training progress on stderr
        (a tqdm bar when tqdm is importable, otherwise a line about ten
        times per fit and one at the end). The library itself never prints.

    Attributes
    ----------
    net_ : Net
        The trained network (the weight average when ``ema`` is set).
    schedule_ : Schedule
        The sampling grid, saved with the model.
    n_features_in_ : int
        Dimension of the training data.
    loss_ : float
        Mean training loss of the last steps.
    n_context_features_in_ : int
        Width of the contexts the network takes: 0 for an unconditional
        fit, the number of classes for a fit on labels ``y``, the number of
        context columns for a fit on ``context``.
    classes_ : ndarray or None
        The sorted class labels of a fit on ``y`` (label ``classes_[k]`` is
        the one-hot context with a 1 in column k); None otherwise.
    """

    def __init__(self, *, width: int = 128, depth: int = 3, parametrization: str = "edm",
                 sigma_data: Optional[float] = None, steps: int = 3000, batch_size: int = 256,
                 lr: float = 1e-3, warmup: int = 0, lr_decay: bool = False,
                 ema: Optional[float] = None, p_mean: float = -1.2, p_std: float = 1.2,
                 sigma_max: Optional[float] = None, sigma_min: Optional[float] = None,
                 levels: Optional[int] = None, sampler: Optional[str] = None,
                 standardize: bool = True, standardize_context: bool = True,
                 context_dropout: float = 0.1, guidance: float = 0.0,
                 guidance_interval: Optional[Tuple[float, float]] = None, threads: int = 1,
                 random_state: Optional[int] = None, verbose: int = 0) -> None:
        self.width = width
        self.depth = depth
        self.parametrization = parametrization
        self.sigma_data = sigma_data
        self.steps = steps
        self.batch_size = batch_size
        self.lr = lr
        self.warmup = warmup
        self.lr_decay = lr_decay
        self.ema = ema
        self.p_mean = p_mean
        self.p_std = p_std
        self.sigma_max = sigma_max
        self.sigma_min = sigma_min
        self.levels = levels
        self.sampler = sampler
        self.standardize = standardize
        self.standardize_context = standardize_context
        self.context_dropout = context_dropout
        self.guidance = guidance
        self.guidance_interval = guidance_interval
        self.threads = threads
        self.random_state = random_state
        self.verbose = verbose

    # -- parameters, as scikit-learn's BaseEstimator -------------------------
    def get_params(self, deep: bool = True) -> Dict[str, Any]:
        """The constructor's parameters.

        Parameters
        ----------
        deep : bool
            Accepted for scikit-learn's protocol; there are no nested
            estimators.

        Returns
        -------
        dict
            Parameter name to value, in the constructor's order.
        """
        return {name: getattr(self, name) for name, _ in _PARAMS}

    def set_params(self, **params: Any) -> "ScoreModel":
        """Sets constructor parameters by name (checked at the next :meth:`fit`).

        Parameters
        ----------
        **params
            Parameter names and their new values.

        Returns
        -------
        ScoreModel
            self.

        Raises
        ------
        ValueError
            For a name that is not a parameter (nothing is changed).
        """
        for name in params:
            if name not in dict(_PARAMS):
                raise ValueError("invalid parameter %r for ScoreModel; valid: %s"
                                 % (name, ", ".join(n for n, _ in _PARAMS)))
        for name, value in params.items():
            setattr(self, name, value)
        return self

    def __repr__(self):
        changed = ["%s=%r" % (n, getattr(self, n)) for n, d in _PARAMS if getattr(self, n) != d]
        return "ScoreModel(%s)" % ", ".join(changed)

    def _more_tags(self):
        # scikit-learn's estimator tags: unsupervised, dense 2-D input.
        return {"requires_y": False, "X_types": ["2darray"], "allow_nan": False}

    # -- fitting -------------------------------------------------------------
    def _is_edm(self):
        if self.parametrization not in ("edm", "lab"):
            raise ValueError("parametrization must be 'edm' or 'lab' (got %r)"
                             % (self.parametrization,))
        return self.parametrization == "edm"

    def _grid(self):
        if self._is_edm():
            return Schedule.karras(80.0 if self.sigma_max is None else self.sigma_max,
                                   0.002 if self.sigma_min is None else self.sigma_min,
                                   18 if self.levels is None else self.levels)
        return Schedule.geometric(1.0 if self.sigma_max is None else self.sigma_max,
                                  0.01 if self.sigma_min is None else self.sigma_min,
                                  10 if self.levels is None else self.levels)

    def _guidance_range(self):
        if self.guidance_interval is None:
            return 0.0, float("inf")
        try:
            lo, hi = (float(v) for v in self.guidance_interval)
        except (TypeError, ValueError):
            raise ValueError("guidance_interval must be None or a pair (sigma_lo, sigma_hi) "
                             "(got %r)" % (self.guidance_interval,)) from None
        if not (0.0 <= lo <= hi) or math.isnan(hi):
            raise ValueError("guidance_interval must satisfy 0 <= sigma_lo <= sigma_hi "
                             "(got %r)" % (self.guidance_interval,))
        return lo, hi

    @staticmethod
    def _guidance_weight(w, what):
        try:
            w = float(w)
        except (TypeError, ValueError):
            raise ValueError("ScoreModel.%s: guidance must be a number (got %r)"
                             % (what, w)) from None
        if not (math.isfinite(w) and w >= 0.0):
            raise ValueError("ScoreModel.%s: guidance must be finite and >= 0 (got %r)"
                             % (what, w))
        return w

    def _fit_condition(self, y, context, n):
        """The training contexts ((n, c) float32) and classes of a
        conditional fit, or (None, None)."""
        if y is not None and context is not None:
            raise ValueError("ScoreModel.fit: give class labels y or context, not both")
        if y is None and context is None:
            return None, None
        p = self.context_dropout
        if isinstance(p, bool) or not isinstance(p, (int, float, np.integer, np.floating)) \
                or not 0.0 <= float(p) <= 1.0:
            raise ValueError("context_dropout must be a number in [0, 1] (got %r)" % (p,))
        if context is None:
            labels = np.asarray(y)
            if labels.ndim != 1 or labels.shape[0] != n:
                raise ValueError("ScoreModel.fit: y must hold one class label per row of X "
                                 "(%d), got shape %s" % (n, labels.shape))
            if labels.dtype.kind == "f":  # labels stored as floats: integral values only
                with np.errstate(invalid="ignore"):
                    integral = bool(np.all(np.isfinite(labels) & (labels == np.round(labels))))
                if not integral:
                    raise ValueError("ScoreModel.fit: Unknown label type: y must be class "
                                     "labels (integers, integral floats or strings); for "
                                     "continuous conditions use context=")
            elif labels.dtype.kind not in "iubUSO":
                raise ValueError("ScoreModel.fit: Unknown label type: y must be class labels "
                                 "(integers or strings), not %s" % labels.dtype)
            try:
                classes = np.unique(labels)
            except TypeError:  # objects that cannot be sorted
                raise ValueError("ScoreModel.fit: Unknown label type: the labels in y cannot "
                                 "be sorted") from None
            return one_hot(np.searchsorted(classes, labels), classes.shape[0]), classes
        c = _points(context, "fit", name="context")
        if c.shape[0] != n:
            fail(errors.ShapeError, "ScoreModel.fit: context has %d rows, X has %d"
                 % (c.shape[0], n))
        return c, None

    def fit(self, X: ArrayLike, y: Any = None, *,
            context: Optional[ArrayLike] = None) -> "ScoreModel":
        """Trains the model on *X*, unconditionally or conditionally on
        class labels *y* or on continuous *context* rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training points (at least 2), in any units; converted to
            float32. Sparse, complex, NaN and infinite input is refused.
        y : array-like of shape (n_samples,) or None
            Class labels (integers or strings) of a class-conditional model:
            each row is trained with the one-hot context of its label
            (``classes_`` keeps the sorted labels). None (default): no
            labels.
        context : array-like of shape (n_samples, n_context) or None
            Keyword only. Per-row conditions (finite floats) of a
            conditional model, in their own units; standardized inside the
            network when ``standardize_context`` is True. Not together
            with *y*.

        Returns
        -------
        ScoreModel
            self, fitted: ``net_``, ``schedule_``, ``n_features_in_``,
            ``n_context_features_in_``, ``classes_`` and ``loss_`` are set.

        Raises
        ------
        ValueError
            For an invalid parameter, badly shaped *X*, *y* or *context*,
            both *y* and *context*, or non-numeric *y*
            (:class:`scorematch.NonFiniteError`, a ValueError, for NaN or
            infinite values), before any training; the model is unchanged.
        scorematch.DivergedError
            If training diverges.
        """
        edm = self._is_edm()
        if self.sampler is not None and self.sampler not in Sampler.KINDS:
            raise ValueError("sampler must be None or one of %s (got %r)"
                             % (", ".join(Sampler.KINDS), self.sampler))
        x = _points(X, "fit", min_samples=2)
        ctx, classes = self._fit_condition(y, context, x.shape[0])
        if ctx is not None:
            self._guidance_range()
            self._guidance_weight(self.guidance, "fit")
        data = Dataset(x, context=ctx)
        rng = as_rng(self.random_state)
        if self.standardize:
            data.standardize()
        net = Net(data.dim, self.width, self.depth, rng=rng, threads=self.threads,
                  parametrization=self.parametrization,
                  sigma_data=0.0 if self.sigma_data is None else self.sigma_data,
                  context_dim=0 if ctx is None else ctx.shape[1])
        if self.standardize:
            net.set_normalization(*data.standardization)
        if ctx is not None and classes is None and self.standardize_context:
            # Dataset.standardize's mean and std: the divisor of a (nearly)
            # constant column is floored, as smtool train does for contexts.
            net.set_context_normalization(*Dataset(ctx).standardize().standardization)
        schedule = self._grid()
        trainer = Trainer(net, schedule, Adam(net, lr=self.lr), batch_size=self.batch_size)
        if ctx is not None:
            trainer.context_dropout = float(self.context_dropout)
        if edm:
            trainer.set_sigma_sampling("lognormal", self.p_mean, self.p_std)
        if self.warmup or self.lr_decay:
            trainer.set_lr_schedule(self.warmup, self.steps if self.lr_decay else 0)
        average = None
        if self.ema is not None:
            average = net.clone()
            trainer.set_ema(average, self.ema)
        progress = _Progress(int(self.steps)) if self.verbose else None
        loss = float("nan")
        try:
            loss = trainer.fit(data, self.steps, rng=rng, callback=progress,
                               every=progress.every if progress else 1)
        finally:
            if progress is not None:
                progress.close(loss)
        if average is not None:  # the average goes with the trained net's units
            average.set_normalization(*(net.normalization or (None, None)))
        self.net_ = average if average is not None else net
        self.schedule_ = schedule
        self.n_features_in_ = data.dim
        self.n_context_features_in_ = 0 if ctx is None else ctx.shape[1]
        self.classes_ = classes
        self._null_context = ctx is None or float(self.context_dropout) > 0.0
        self.loss_ = loss
        return self

    def _check_fitted(self):
        if not hasattr(self, "net_"):
            raise NotFittedError("this ScoreModel is not fitted yet: call fit() first")

    def _condition(self, what, n, y, context, guidance=None):
        """The contexts ((1 or n, c) float32, data units) of a call on *n*
        points of a fitted model, or None for the null context; checks
        everything before anything runs."""
        if y is not None and context is not None:
            raise ValueError("ScoreModel.%s: give y or context, not both" % what)
        width = getattr(self, "n_context_features_in_", 0)
        classes = getattr(self, "classes_", None)
        if width == 0:
            if y is not None or context is not None or guidance is not None:
                raise ValueError("ScoreModel.%s: this model was fitted unconditionally (no y "
                                 "or context in fit); it takes no y, context or guidance"
                                 % what)
            return None
        fitted_on = "class labels y" if classes is not None else "context"
        if y is None and context is None:
            if guidance is not None:
                raise ValueError("ScoreModel.%s: guidance needs a condition (y or context)"
                                 % what)
            if not getattr(self, "_null_context", False):
                raise ValueError("ScoreModel.%s: this model is conditional (fitted on %s with "
                                 "context_dropout=0, so it has no unconditional score): give "
                                 "%s" % (what, fitted_on, "y" if classes is not None
                                         else "context"))
            return None
        if classes is not None and context is not None:
            raise ValueError("ScoreModel.%s: this model was fitted on class labels: give y=, "
                             "not context=" % what)
        if classes is None and y is not None:
            raise ValueError("ScoreModel.%s: this model was fitted on context: give "
                             "context=, not y=" % what)
        if y is not None:
            labels = np.asarray(y)
            if labels.ndim > 1 or (labels.ndim == 1 and labels.shape[0] != n):
                raise ValueError("ScoreModel.%s: y must be one label or %d labels (one per "
                                 "point), got shape %s" % (what, n, labels.shape))
            flat = labels.reshape(-1)
            known = np.array([v in set(classes.tolist()) for v in flat.tolist()], dtype=bool)
            if not known.all():
                raise ValueError("ScoreModel.%s: y holds labels not seen in fit: %s (classes_ "
                                 "are %s)" % (what, sorted(set(flat[~known].tolist()), key=str),
                                              classes.tolist()))
            return one_hot(np.searchsorted(classes, flat), classes.shape[0])
        c = np.asarray(context)
        if c.ndim == 1:
            c = c.reshape(1, -1)
        c = _points(c, what, n_features=None, name="context")
        if c.shape[1] != width:
            fail(errors.ShapeError, "ScoreModel.%s: context has %d columns, but the model was "
                 "fitted on %d" % (what, c.shape[1], width))
        if c.shape[0] not in (1, n):
            fail(errors.ShapeError, "ScoreModel.%s: context must be one row (for every point) "
                 "or %d rows, got %d" % (what, n, c.shape[0]))
        return c

    def _conditional_sampler(self, ctx, guidance, what):
        sampler = Sampler(self.net_, self.schedule_, kind=self._kind())
        if ctx is not None:
            w = self._guidance_weight(self.guidance if guidance is None else guidance, what)
            lo, hi = self._guidance_range()
            sampler.set_context(ctx)
            if w != 0.0:
                sampler.set_guidance(w, lo, hi)
        return sampler

    def _kind(self):
        return self.sampler or ("edm-heun" if self.net_.parametrization == "edm"
                                else "langevin")

    # -- sampling and densities ------------------------------------------------
    def sample(self, n_samples: int = 1, random_state: RandomState = None, *,
               y: Any = None, context: Optional[ArrayLike] = None,
               guidance: Optional[float] = None) -> np.ndarray:
        """Draws new points from the model, conditionally on *y* or
        *context* for a conditional model.

        Parameters
        ----------
        n_samples : int
            Number of points.
        random_state : int, Rng or None
            Seed of the sampler; the same int gives the same points (None:
            a seed from the operating system).
        y : label, array-like of shape (n_samples,), or None
            Keyword only; a model fitted on class labels: one label (of
            ``classes_``) for every point, or one per point.
        context : array-like of shape (n_context,) or (n_samples, n_context), or None
            Keyword only; a model fitted on context: one row for every point
            or one per point, in the units given to :meth:`fit`.
        guidance : float or None
            Keyword only; classifier-free guidance weight for this call
            (None: the ``guidance`` parameter). Needs *y* or *context*.

        Returns
        -------
        ndarray of shape (n_samples, n_features), float32
            The points, in the training data's units. A conditional model
            called without *y* or *context* draws from its null context,
            the unconditional distribution it learnt through
            ``context_dropout`` (ValueError if that was 0).

        Raises
        ------
        ValueError
            For *y* or *context* given to an unconditional model, both
            given, labels not in ``classes_``, contexts of the wrong width
            or number of rows (:class:`scorematch.ShapeError`) or with NaN
            or infinite values (:class:`scorematch.NonFiniteError`).
        """
        self._check_fitted()
        n = int(n_samples) if isinstance(n_samples, (int, np.integer)) else n_samples
        ctx = self._condition("sample", n, y, context, guidance)
        sampler = self._conditional_sampler(ctx, guidance, "sample")
        x = sampler.run(n_samples, rng=as_rng(random_state))
        return self.net_.to_data_units(x)

    def impute(self, X: ArrayLike, random_state: RandomState = None, draws: int = 1,
               return_spread: bool = False, *, y: Any = None,
               context: Optional[ArrayLike] = None, guidance: Optional[float] = None
               ) -> Union[np.ndarray, Tuple[np.ndarray, np.ndarray]]:
        """Fills in the missing (NaN) entries of *X* with the model,
        conditionally on each row's other entries.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Points in the data's units; NaN marks a missing entry.
        random_state : int, Rng or None
            Seed of the sampler.
        draws : int
            Each NaN entry receives the average of this many imputations (an
            estimate of the conditional mean: a lower squared error than one
            draw, for *draws* times the work).
        return_spread : bool
            Also return the standard deviation of the draws per entry.
        y, context, guidance
            Keyword only; the condition of a conditional model, as in
            :meth:`sample` (one label or context row for every row of *X*,
            or one per row).

        Returns
        -------
        ndarray of shape (n_samples, n_features), float32
            A copy of *X* with the NaN entries filled in; the other entries
            are those of *X*. With ``return_spread=True``, a pair
            ``(X_filled, spread)``: *spread* in the data's units, 0 where
            observed, NaN with one draw.
        """
        self._check_fitted()
        x = _points(X, "impute", n_features=self.n_features_in_, allow_nan=True).copy()
        ctx = self._condition("impute", x.shape[0], y, context, guidance)
        observed = ~np.isnan(x)
        u = self.net_.from_data_units(np.where(observed, x, 0.0))
        sampler = self._conditional_sampler(ctx, guidance, "impute")
        sampler.set_impute_draws(draws)
        res = sampler.impute(u, observed, rng=as_rng(random_state), return_spread=return_spread)
        u, spread = res if return_spread else (res, None)
        filled = np.where(observed, x, self.net_.to_data_units(u)).astype(np.float32)
        if not return_spread:
            return filled
        norm = self.net_.normalization
        if norm is not None:  # a spread scales with the data; no shift
            spread = spread * norm[1].astype(np.float32)
        return filled, np.where(observed, 0.0, spread).astype(np.float32)

    def score_samples(self, X: ArrayLike, levels: int = 128, probes: int = 0,
                      random_state: RandomState = None, *, y: Any = None,
                      context: Optional[ArrayLike] = None) -> np.ndarray:
        """Log-density of each point under the model.

        The probability-flow ODE is integrated on a *levels*-level Karras
        grid over the model's sigma range; what is measured is the density
        of the data blurred by the smallest sigma, with the Jacobian of the
        normalization added, so in the data's units.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Points in the data's units.
        levels : int
            Levels of the integration grid (at least 2). On two moons the
            mean moves by 0.016 nats from 64 to 128 levels and by 0.005
            from 128 to 512 (coarser grids overestimate it).
        probes : int
            0 for the exact Jacobian trace; k > 0 for Hutchinson's estimate
            with k probes per point.
        random_state : int, Rng or None
            Seed of the probes (unused when ``probes=0``).
        y, context
            Keyword only. Conditional log-densities are not supported (the
            library integrates the probability flow with the null context
            only): giving either raises NotImplementedError. A conditional
            model without them gives the log-density of its null context,
            the unconditional model it learnt through ``context_dropout``
            (ValueError if that was 0).

        Returns
        -------
        ndarray of shape (n_samples,), float64
            Log-densities in nats.
        """
        self._check_fitted()
        if (y is not None or context is not None) and \
                getattr(self, "n_context_features_in_", 0) > 0:
            raise NotImplementedError("ScoreModel.score_samples: conditional log-densities "
                                      "(y or context) are not supported; without them the "
                                      "density is the unconditional one")
        self._condition("score_samples", 0, y, context)
        x = _points(X, "score_samples", n_features=self.n_features_in_)
        z = self.net_.from_data_units(x)
        sig = self.schedule_.sigmas
        grid = Schedule.karras(float(sig[0]), float(sig[-1]), levels)
        logp = log_likelihood(self.net_, grid, z, probes=probes,
                              rng=as_rng(random_state) if probes else None)
        norm = self.net_.normalization
        if norm is not None:  # change of variables x = z·scale + shift
            logp -= float(np.sum(np.log(norm[1].astype(np.float64))))
        return logp

    def score(self, X: ArrayLike, y: Any = None) -> float:
        """Mean log-density of the points (higher is better).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Points in the data's units.
        y : ignored
            Accepted for scikit-learn's protocol (never a condition: a
            conditional model is scored with its unconditional density).

        Returns
        -------
        float
            ``score_samples(X).mean()``, in nats.
        """
        return float(np.mean(self.score_samples(X)))

    # -- pickling through the model file -----------------------------------------
    def __getstate__(self):
        state = self.get_params()
        if hasattr(self, "net_"):
            state["_model"] = _model.save_bytes(self.net_, self.schedule_)
            state["_fitted"] = {"n_features_in_": self.n_features_in_, "loss_": self.loss_,
                                "n_context_features_in_": self.n_context_features_in_,
                                "classes_": self.classes_,
                                "_null_context": self._null_context}
        return state

    def __setstate__(self, state):
        state = dict(state)
        blob, fitted = state.pop("_model", None), state.pop("_fitted", None)
        self.__init__(**state)
        if blob is not None:
            loaded = _model.load_bytes(blob)
            loaded.net.threads = self.threads
            self.net_, self.schedule_ = loaded.net, loaded.schedule
            self.n_features_in_ = fitted["n_features_in_"]
            self.loss_ = fitted["loss_"]
            self.n_context_features_in_ = fitted.get("n_context_features_in_", 0)
            self.classes_ = fitted.get("classes_")
            self._null_context = fitted.get("_null_context", True)

"""A score-based generative model as one estimator, in scikit-learn's style.

:class:`ScoreModel` wires the low-level handles (data set, network, noise
levels, optimizer, trainer, sampler) the way ``smtool train`` and
``smtool sample`` do: data standardized column by column and the
normalization kept in the model, EDM preconditioning with log-normal noise
levels in training, and EDM's Heun sampler on an 18-level Karras grid (35
network evaluations). Data go in and samples come out in the data's units.
"""

import sys
import time
from typing import Any, Dict, Optional, Tuple, Union

import numpy as np

from . import errors
from . import model as _model
from ._base import fail
from .data import Dataset, as_rng
from .learning import Adam, Net, Sampler, Schedule, Trainer, log_likelihood

__all__ = ["ScoreModel", "NotFittedError"]

#: The constructor's parameters and their defaults, in order.
_PARAMS = (
    ("width", 128), ("depth", 3), ("parametrization", "edm"), ("sigma_data", None),
    ("steps", 3000), ("batch_size", 256), ("lr", 1e-3), ("warmup", 0), ("lr_decay", False),
    ("ema", None), ("p_mean", -1.2), ("p_std", 1.2), ("sigma_max", None), ("sigma_min", None),
    ("levels", None), ("sampler", None), ("standardize", True), ("threads", 1),
    ("random_state", None), ("verbose", 0),
)

#: Anything NumPy can turn into an (n, d) array of numbers.
ArrayLike = Any
#: An int seed, an :class:`Rng`, or None (a seed from the operating system).
RandomState = Any


class NotFittedError(ValueError, AttributeError):
    """A method that needs a fitted model was called before :meth:`ScoreModel.fit`
    (both a ValueError and an AttributeError, as scikit-learn's)."""


def _points(X, what, min_samples=1, n_features=None, allow_nan=False):
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
                         "your data with X.reshape(-1, 1) if it has a single feature or "
                         "X.reshape(1, -1) if it is a single sample" % (what, x.ndim))
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
            fail(errors.NonFiniteError, "ScoreModel.%s: Input X contains infinity or a value "
                 "too large for float32" % what)
    elif not np.isfinite(x).all():
        fail(errors.NonFiniteError, "ScoreModel.%s: Input X contains %s" % (
            what, "NaN" if np.isnan(x).any() else "infinity or a value too large for float32"))
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
    """

    def __init__(self, *, width: int = 128, depth: int = 3, parametrization: str = "edm",
                 sigma_data: Optional[float] = None, steps: int = 3000, batch_size: int = 256,
                 lr: float = 1e-3, warmup: int = 0, lr_decay: bool = False,
                 ema: Optional[float] = None, p_mean: float = -1.2, p_std: float = 1.2,
                 sigma_max: Optional[float] = None, sigma_min: Optional[float] = None,
                 levels: Optional[int] = None, sampler: Optional[str] = None,
                 standardize: bool = True, threads: int = 1,
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

    def fit(self, X: ArrayLike, y: Any = None) -> "ScoreModel":
        """Trains the model on *X*.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training points (at least 2), in any units; converted to
            float32. Sparse, complex, NaN and infinite input is refused.
        y : ignored
            Accepted for scikit-learn's protocol.

        Returns
        -------
        ScoreModel
            self, fitted: ``net_``, ``schedule_``, ``n_features_in_`` and
            ``loss_`` are set.

        Raises
        ------
        ValueError
            For an invalid parameter or badly shaped *X*
            (:class:`scorematch.NonFiniteError`, a ValueError, for NaN or
            infinite values), before any training.
        scorematch.DivergedError
            If training diverges.
        """
        edm = self._is_edm()
        if self.sampler is not None and self.sampler not in Sampler.KINDS:
            raise ValueError("sampler must be None or one of %s (got %r)"
                             % (", ".join(Sampler.KINDS), self.sampler))
        data = Dataset(_points(X, "fit", min_samples=2))
        rng = as_rng(self.random_state)
        if self.standardize:
            data.standardize()
        net = Net(data.dim, self.width, self.depth, rng=rng, threads=self.threads,
                  parametrization=self.parametrization,
                  sigma_data=0.0 if self.sigma_data is None else self.sigma_data)
        if self.standardize:
            net.set_normalization(*data.standardization)
        schedule = self._grid()
        trainer = Trainer(net, schedule, Adam(net, lr=self.lr), batch_size=self.batch_size)
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
        self.loss_ = loss
        return self

    def _check_fitted(self):
        if not hasattr(self, "net_"):
            raise NotFittedError("this ScoreModel is not fitted yet: call fit() first")

    def _kind(self):
        return self.sampler or ("edm-heun" if self.net_.parametrization == "edm"
                                else "langevin")

    # -- sampling and densities ------------------------------------------------
    def sample(self, n_samples: int = 1, random_state: RandomState = None) -> np.ndarray:
        """Draws new points from the model.

        Parameters
        ----------
        n_samples : int
            Number of points.
        random_state : int, Rng or None
            Seed of the sampler; the same int gives the same points (None:
            a seed from the operating system).

        Returns
        -------
        ndarray of shape (n_samples, n_features), float32
            The points, in the training data's units.
        """
        self._check_fitted()
        sampler = Sampler(self.net_, self.schedule_, kind=self._kind())
        x = sampler.run(n_samples, rng=as_rng(random_state))
        return self.net_.to_data_units(x)

    def impute(self, X: ArrayLike, random_state: RandomState = None, draws: int = 1,
               return_spread: bool = False
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
        observed = ~np.isnan(x)
        u = self.net_.from_data_units(np.where(observed, x, 0.0))
        sampler = Sampler(self.net_, self.schedule_, kind=self._kind())
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
                      random_state: RandomState = None) -> np.ndarray:
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

        Returns
        -------
        ndarray of shape (n_samples,), float64
            Log-densities in nats.
        """
        self._check_fitted()
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
            Accepted for scikit-learn's protocol.

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
            state["_fitted"] = {"n_features_in_": self.n_features_in_, "loss_": self.loss_}
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

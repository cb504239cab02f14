"""A score-based generative model as one estimator, in scikit-learn's style.

:class:`ScoreModel` wires the low-level handles (data set, network, noise
levels, optimizer, trainer, sampler) the way ``smtool train`` and
``smtool sample`` do: data standardized column by column and the
normalization kept in the model, EDM preconditioning with log-normal noise
levels in training, and EDM's Heun sampler on an 18-level Karras grid (35
network evaluations). Data go in and samples come out in the data's units.
"""

import sys

import numpy as np

from . import model as _model
from .data import Dataset, as_rng
from .learning import Adam, Net, Sampler, Schedule, Trainer, log_likelihood

__all__ = ["ScoreModel"]

#: The constructor's parameters and their defaults, in order.
_PARAMS = (
    ("width", 128), ("depth", 3), ("parametrization", "edm"), ("sigma_data", None),
    ("steps", 3000), ("batch_size", 256), ("lr", 1e-3), ("warmup", 0), ("lr_decay", False),
    ("ema", None), ("p_mean", -1.2), ("p_std", 1.2), ("sigma_max", None), ("sigma_min", None),
    ("levels", None), ("sampler", None), ("standardize", True), ("threads", 1),
    ("random_state", None), ("verbose", 0),
)


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
        1 prints training progress to stderr about ten times per fit.

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

    def __init__(self, *, width=128, depth=3, parametrization="edm", sigma_data=None,
                 steps=3000, batch_size=256, lr=1e-3, warmup=0, lr_decay=False, ema=None,
                 p_mean=-1.2, p_std=1.2, sigma_max=None, sigma_min=None, levels=None,
                 sampler=None, standardize=True, threads=1, random_state=None, verbose=0):
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
    def get_params(self, deep=True):
        """The constructor's parameters as a dict (*deep* is accepted for
        scikit-learn's protocol; there are no nested estimators)."""
        return {name: getattr(self, name) for name, _ in _PARAMS}

    def set_params(self, **params):
        """Sets constructor parameters by name; returns self."""
        for name, value in params.items():
            if name not in dict(_PARAMS):
                raise ValueError("invalid parameter %r for ScoreModel; valid: %s"
                                 % (name, ", ".join(n for n, _ in _PARAMS)))
            setattr(self, name, value)
        return self

    def __repr__(self):
        changed = ["%s=%r" % (n, getattr(self, n)) for n, d in _PARAMS if getattr(self, n) != d]
        return "ScoreModel(%s)" % ", ".join(changed)

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

    def fit(self, X, y=None):
        """Trains on the (n, d) array-like *X* (*y* is ignored); returns self.

        Raises :class:`scorematch.NonFiniteError` for NaN or infinite values
        and :class:`scorematch.DivergedError` if training diverges."""
        edm = self._is_edm()
        if self.sampler is not None and self.sampler not in Sampler.KINDS:
            raise ValueError("sampler must be None or one of %s (got %r)"
                             % (", ".join(Sampler.KINDS), self.sampler))
        data = Dataset(np.asarray(X, dtype=np.float32))
        if data.size < 2:
            raise ValueError("ScoreModel.fit needs at least 2 points (got %d)" % data.size)
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
        callback, every = None, 1
        if self.verbose:
            every = max(1, self.steps // 10)

            def callback(step, total, loss):
                print("ScoreModel.fit: step %d/%d loss %.4f" % (step, total, loss),
                      file=sys.stderr)
        self.loss_ = trainer.fit(data, self.steps, rng=rng, callback=callback, every=every)
        if average is not None:  # the average goes with the trained net's units
            average.set_normalization(*(net.normalization or (None, None)))
        self.net_ = average if average is not None else net
        self.schedule_ = schedule
        self.n_features_in_ = data.dim
        return self

    def _check_fitted(self):
        if not hasattr(self, "net_"):
            raise AttributeError("this ScoreModel is not fitted yet: call fit() first")

    # -- sampling and densities ------------------------------------------------
    def sample(self, n_samples=1, random_state=None):
        """Draws *n_samples* points; an (n_samples, d) float32 array in the
        data's units. The same *random_state* (int) gives the same points."""
        self._check_fitted()
        kind = self.sampler or ("edm-heun" if self.net_.parametrization == "edm"
                                else "langevin")
        sampler = Sampler(self.net_, self.schedule_, kind=kind)
        x = sampler.run(n_samples, rng=as_rng(random_state))
        return self.net_.to_data_units(x)

    def impute(self, X, random_state=None, draws=1, return_spread=False):
        """Fills in the NaN entries of *X* (n, d) with the model, conditionally
        on the row's other entries; returns a float32 copy in the data's
        units whose other entries are those of *X*. With *draws* > 1 each
        NaN entry receives the average of that many imputations (an
        estimate of the conditional mean: a lower squared error than one
        draw, for *draws* times the work). ``return_spread=True`` returns
        ``(X_filled, spread)``, *spread* the standard deviation of the draws
        per entry in the data's units (0 where observed, NaN with one
        draw)."""
        self._check_fitted()
        kind = self.sampler or ("edm-heun" if self.net_.parametrization == "edm"
                                else "langevin")
        x = np.array(X, dtype=np.float32, copy=True)
        if x.ndim != 2:
            raise ValueError("X must be a 2-D array")
        observed = ~np.isnan(x)
        u = self.net_.from_data_units(np.where(observed, x, 0.0))
        sampler = Sampler(self.net_, self.schedule_, kind=kind)
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

    def score_samples(self, X, levels=64, probes=0, random_state=None):
        """Log-density (nats) of each row of *X* in the data's units, through
        the probability-flow ODE on a *levels*-level Karras grid over the
        model's sigma range (the density of the data blurred by the smallest
        sigma). ``probes=0`` uses the exact Jacobian trace; ``probes=k`` the
        Hutchinson estimate with k probes drawn from *random_state*."""
        self._check_fitted()
        x = np.asarray(X, dtype=np.float32)
        z = self.net_.from_data_units(x)
        sig = self.schedule_.sigmas
        grid = Schedule.karras(float(sig[0]), float(sig[-1]), levels)
        logp = log_likelihood(self.net_, grid, z, probes=probes,
                              rng=as_rng(random_state) if probes else None)
        norm = self.net_.normalization
        if norm is not None:  # change of variables x = z·scale + shift
            logp -= float(np.sum(np.log(norm[1].astype(np.float64))))
        return logp

    def score(self, X, y=None):
        """Mean log-density of the rows of *X* (higher is better)."""
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

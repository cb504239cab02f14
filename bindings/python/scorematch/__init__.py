"""Python bindings of libscorematch, through ctypes (no compiled extension).

Score-based generative modelling: toy data sets, a noise-conditioned MLP
score network trained by denoising (or sliced) score matching, annealed
Langevin and probability-flow ODE sampling, log-likelihoods and
sample-quality metrics. The C library does the work; NumPy
arrays go in and come out without copies where the C API allows it.

The library is found, in order, by :func:`load_library`'s *path* argument,
the environment variable ``SCOREMATCH_LIBRARY``,
``ctypes.util.find_library('scorematch')`` and ``libscorematch.so.0``.

Quick start::

    import scorematch as sm
    data = sm.moons(4000, noise=0.05, rng=0).standardize()
    net = sm.Net(2, 128, 3, rng=1)
    sched = sm.Schedule.geometric(1.0, 0.01, 10)
    trainer = sm.Trainer(net, sched, sm.Adam(net, lr=1e-3), batch_size=256)
    loss = trainer.fit(data, 3000, rng=2)
    samples = sm.Sampler(net, sched).run(2000, rng=3)
    print(sm.coverage_precision(data, samples, radius=0.15))

Failing calls raise :class:`Error` (a subclass per status code) with the
status, ``sm_strerror()`` text and ``sm_last_error()`` message.
"""

from ._ffi import library_path, load_library
from .errors import (CancelledError, DivergedError, Error, FileError, FormatError,
                     InvalidArgumentError, NonFiniteError, OutOfMemoryError, ParseError,
                     ShapeError, SizeOverflowError, StateError, VersionError)
from .data import (Dataset, Rng, blobs, checkerboard, circles, eight_gaussians,
                   gaussian_mixture, moons, one_hot, pinwheel, spirals, swiss_roll, write_csv)
from .learning import (SGD, Adam, Layer, Net, Optim, Sampler, Schedule, Trainer,
                       default_threads, log_likelihood)
from .metrics import (MMD, PRDC, CoveragePrecision, coverage, coverage_precision,
                      energy_distance, frechet_distance, mmd_rbf, per_mode_coverage, prdc,
                      precision)
from .estimator import NotFittedError, ScoreModel
from . import model

__all__ = [
    "load_library", "library_path", "version", "version_number", "blas_config",
    "kernel_config",
    "strerror", "last_error", "clear_error",
    "Error", "InvalidArgumentError", "OutOfMemoryError", "SizeOverflowError", "ShapeError",
    "NonFiniteError", "FileError", "ParseError", "FormatError", "VersionError",
    "DivergedError", "CancelledError", "StateError",
    "Rng", "Dataset", "write_csv", "one_hot", "moons", "circles", "blobs", "gaussian_mixture",
    "swiss_roll", "spirals", "checkerboard", "eight_gaussians", "pinwheel",
    "Schedule", "Net", "default_threads", "Layer", "Optim", "Adam", "SGD", "Trainer", "Sampler", "log_likelihood",
    "coverage", "precision", "coverage_precision", "per_mode_coverage", "prdc",
    "energy_distance", "mmd_rbf", "frechet_distance", "CoveragePrecision", "PRDC", "MMD",
    "ScoreModel", "model",
]


def version():
    """Version of the loaded library, "MAJOR.MINOR.PATCH"."""
    from . import _ffi
    return _ffi._decode(_ffi.lib().sm_version_string())


def version_number():
    """Version of the loaded library as MAJOR*10000 + MINOR*100 + PATCH."""
    from . import _ffi
    return _ffi.lib().sm_version_number()


def blas_config():
    """BLIS kernel set in use ("skx", "haswell", "zen3", "generic", ...)."""
    from . import _ffi
    return _ffi._decode(_ffi.lib().sm_blas_config())


def kernel_config():
    """Kernels that run matrix products by default: "avx512", "avx2" (the
    library's own, chosen from the CPU) or "blis"."""
    from . import _ffi
    return _ffi._decode(_ffi.lib().sm_kernel_config())


def strerror(status):
    """``sm_strerror(status)``: the short text of a status code."""
    from . import _ffi
    return _ffi._decode(_ffi.lib().sm_strerror(int(status)))


def last_error():
    """``sm_last_error()`` of the calling thread ("" if nothing failed)."""
    from . import _ffi
    return _ffi._decode(_ffi.lib().sm_last_error())


def clear_error():
    """Clears the calling thread's last-error message."""
    from . import _ffi
    _ffi.lib().sm_clear_error()


def __getattr__(name):
    # scorematch.__version__ is the loaded library's version (the project
    # writes its version in one place only: meson.build).
    if name == "__version__":
        return version()
    raise AttributeError("module 'scorematch' has no attribute %r" % name)

"""Loading libscorematch and declaring the C prototypes (ctypes).

Every wrapped function gets explicit ``argtypes`` and ``restype``; functions
returning an ``sm_status`` get an ``errcheck`` that raises
:class:`scorematch.Error` on a non-zero status, reading ``sm_last_error()``
right after the failing call, on the same thread.
"""

import ctypes
import ctypes.util
import os
import threading

from ctypes import (CFUNCTYPE, POINTER, c_char_p, c_double, c_float, c_int,
                    c_int32, c_size_t, c_uint, c_uint64, c_void_p)

from . import errors

__all__ = ["load_library", "lib", "library_path", "TRAIN_CALLBACK", "NetOptions",
           "SAMPLER_CALLBACK", "c_float_p", "c_double_p", "c_size_t_p"]

c_float_p = POINTER(c_float)
c_double_p = POINTER(c_double)
c_size_t_p = POINTER(c_size_t)
c_int32_p = POINTER(c_int32)
c_void_pp = POINTER(c_void_p)
# Marks functions returning sm_status (a C enum, int-sized): declared with
# restype c_int and an errcheck that raises on a non-zero status.
status = object()

# typedef int (*sm_train_callback)(uint64_t step, uint64_t total, double loss,
#                                  void *user_data);
TRAIN_CALLBACK = CFUNCTYPE(c_int, c_uint64, c_uint64, c_double, c_void_p)
# typedef int (*sm_sampler_callback)(size_t level, size_t levels, float sigma,
#                                    const float *x, size_t n, size_t dim,
#                                    void *user_data);
SAMPLER_CALLBACK = CFUNCTYPE(c_int, c_size_t, c_size_t, c_float, c_float_p,
                             c_size_t, c_size_t, c_void_p)
# typedef int (*sm_grad_reduce_fn)(void *user_data, float *buf, size_t n);
GRAD_REDUCE = CFUNCTYPE(c_int, c_void_p, c_float_p, c_size_t)



class NetOptions(ctypes.Structure):
    """``sm_net_options`` (version 2)."""
    VERSION = 2
    _fields_ = [("version", c_uint), ("dim", c_size_t), ("width", c_size_t),
                ("depth", c_size_t), ("parametrization", c_int),
                ("sigma_data", c_double), ("context_dim", c_size_t)]


# The major version of the C API these bindings are written against.
API_MAJOR = 0

# name: (restype, [argtypes]); restype `status` gets the error check.
_PROTOTYPES = {
    # version.h, error.h
    "sm_version_string": (c_char_p, []),
    "sm_version_number": (c_uint, []),
    "sm_blas_config": (c_char_p, []),
    "sm_kernel_config": (c_char_p, []),
    "sm_strerror": (c_char_p, [c_int]),
    "sm_last_error": (c_char_p, []),
    "sm_clear_error": (None, []),
    # rng.h
    "sm_rng_new": (status, [c_void_pp, c_uint64]),
    "sm_rng_free": (None, [c_void_p]),
    "sm_rng_reseed": (status, [c_void_p, c_uint64]),
    "sm_rng_clone": (status, [c_void_p, c_void_pp]),
    "sm_rng_split": (status, [c_void_p, c_void_pp]),
    "sm_rng_jump": (status, [c_void_p]),
    "sm_rng_next_u64": (c_uint64, [c_void_p]),
    "sm_rng_uniform": (c_double, [c_void_p]),
    "sm_rng_below": (c_uint64, [c_void_p, c_uint64]),
    "sm_rng_normal": (c_double, [c_void_p]),
    "sm_rng_fill_normal": (status, [c_void_p, c_float_p, c_size_t, c_float, c_float]),
    "sm_rng_fill_uniform": (status, [c_void_p, c_float_p, c_size_t, c_float, c_float]),
    # dataset.h
    "sm_dataset_new": (status, [c_void_pp, c_float_p, c_size_t, c_size_t]),
    "sm_dataset_read_csv": (status, [c_void_pp, c_char_p]),
    "sm_dataset_parse_csv": (status, [c_void_pp, c_char_p, c_size_t]),
    "sm_dataset_read_csv_missing": (status, [c_void_pp, c_void_pp, c_char_p]),
    "sm_dataset_parse_csv_missing": (status, [c_void_pp, c_void_pp, c_char_p, c_size_t]),
    "sm_dataset_write_csv": (status, [c_void_p, c_char_p]),
    "sm_points_write_csv": (status, [c_char_p, c_float_p, c_size_t, c_size_t]),
    "sm_dataset_clone": (status, [c_void_p, c_void_pp]),
    "sm_dataset_free": (None, [c_void_p]),
    "sm_dataset_size": (c_size_t, [c_void_p]),
    "sm_dataset_dim": (c_size_t, [c_void_p]),
    "sm_dataset_header_rows": (c_size_t, [c_void_p]),
    "sm_dataset_column_name": (c_char_p, [c_void_p, c_size_t]),
    "sm_dataset_read_csv_ex": (status, [c_void_pp, c_void_pp, c_char_p, c_uint]),
    "sm_dataset_parse_csv_ex": (status, [c_void_pp, c_void_pp, c_char_p, c_size_t, c_uint]),
    "sm_dataset_data": (c_float_p, [c_void_p]),
    "sm_dataset_row": (c_float_p, [c_void_p, c_size_t]),
    "sm_dataset_set_labels": (status, [c_void_p, c_int32_p, c_size_t]),
    "sm_dataset_set_context": (status, [c_void_p, c_float_p, c_size_t, c_size_t]),
    "sm_dataset_context": (c_float_p, [c_void_p]),
    "sm_dataset_context_dim": (c_size_t, [c_void_p]),
    "sm_labels_one_hot": (status, [c_int32_p, c_size_t, c_size_t, c_float_p]),
    "sm_dataset_labels": (c_int32_p, [c_void_p]),
    "sm_dataset_num_labels": (c_size_t, [c_void_p]),
    "sm_dataset_standardize": (status, [c_void_p]),
    "sm_dataset_is_standardized": (c_int, [c_void_p]),
    "sm_dataset_get_standardization": (status, [c_void_p, c_float_p, c_float_p, c_size_t]),
    "sm_dataset_unstandardize_points": (status, [c_void_p, c_float_p, c_size_t, c_size_t]),
    "sm_dataset_standardize_points": (status, [c_void_p, c_float_p, c_size_t, c_size_t]),
    # toydata.h
    "sm_toy_moons": (status, [c_void_pp, c_size_t, c_double, c_int, c_void_p]),
    "sm_toy_circles": (status, [c_void_pp, c_size_t, c_double, c_double, c_int, c_void_p]),
    "sm_toy_blobs": (status, [c_void_pp, c_size_t, c_size_t, c_float_p, c_size_t, c_double,
                              c_int, c_void_p]),
    "sm_toy_gaussian_mixture": (status, [c_void_pp, c_size_t, c_size_t, c_float_p,
                                         c_double_p, c_double_p, c_size_t, c_void_p]),
    "sm_toy_swiss_roll": (status, [c_void_pp, c_size_t, c_double, c_float_p, c_void_p]),
    "sm_toy_spirals": (status, [c_void_pp, c_size_t, c_double, c_int, c_void_p]),
    "sm_toy_checkerboard": (status, [c_void_pp, c_size_t, c_int, c_void_p]),
    "sm_toy_eight_gaussians": (status, [c_void_pp, c_size_t, c_double, c_double, c_int,
                                        c_void_p]),
    "sm_toy_pinwheel": (status, [c_void_pp, c_size_t, c_size_t, c_double, c_double,
                                 c_double, c_int, c_void_p]),
    # metrics.h
    "sm_metric_coverage": (status, [c_float_p, c_size_t, c_float_p, c_size_t, c_size_t,
                                    c_double, c_double_p, c_size_t_p]),
    "sm_metric_precision": (status, [c_float_p, c_size_t, c_float_p, c_size_t, c_size_t,
                                     c_double, c_double_p, c_size_t_p]),
    "sm_metric_coverage_precision": (status, [c_float_p, c_size_t, c_float_p, c_size_t,
                                              c_size_t, c_double, c_double_p, c_double_p,
                                              c_size_t_p]),
    "sm_metric_per_mode_coverage": (status, [c_float_p, c_int32_p, c_size_t, c_float_p,
                                             c_size_t, c_size_t, c_double, c_double_p,
                                             c_size_t, c_size_t_p]),
    "sm_metric_prdc": (status, [c_float_p, c_size_t, c_float_p, c_size_t, c_size_t,
                                c_size_t, c_size_t, c_double_p, c_double_p, c_double_p,
                                c_double_p, c_size_t_p]),
    "sm_metric_energy_distance": (status, [c_float_p, c_size_t, c_float_p, c_size_t,
                                           c_size_t, c_size_t, c_void_p, c_double_p,
                                           c_size_t_p]),
    "sm_metric_mmd_rbf": (status, [c_float_p, c_size_t, c_float_p, c_size_t, c_size_t,
                                   c_double, c_size_t, c_void_p, c_double_p, c_double_p,
                                   c_size_t_p]),
    "sm_metric_frechet_distance": (status, [c_float_p, c_size_t, c_float_p, c_size_t,
                                            c_size_t, c_double_p, c_size_t_p]),
    # schedule.h
    "sm_schedule_new_geometric": (status, [c_void_pp, c_double, c_double, c_size_t]),
    "sm_schedule_new_linear": (status, [c_void_pp, c_double, c_double, c_size_t]),
    "sm_schedule_new_karras": (status, [c_void_pp, c_double, c_double, c_size_t, c_double]),
    "sm_schedule_new_from_array": (status, [c_void_pp, c_float_p, c_size_t]),
    "sm_schedule_free": (None, [c_void_p]),
    "sm_schedule_levels": (c_size_t, [c_void_p]),
    "sm_schedule_sigma": (c_float, [c_void_p, c_size_t]),
    "sm_schedule_get_sigmas": (status, [c_void_p, c_float_p, c_size_t]),
    "sm_schedule_suggest_sigma_max": (status, [c_void_p, c_void_p, c_double_p]),
    # net.h
    "sm_net_new": (status, [c_void_pp, c_size_t, c_size_t, c_size_t, c_void_p]),
    "sm_net_clone": (status, [c_void_p, c_void_pp]),
    "sm_net_free": (None, [c_void_p]),
    "sm_net_dim": (c_size_t, [c_void_p]),
    "sm_net_context_dim": (c_size_t, [c_void_p]),
    "sm_net_forward_cond": (status, [c_void_p, c_float_p, c_float_p, c_float_p, c_size_t,
                                     c_size_t, c_size_t, c_float_p]),
    "sm_net_denoise_cond": (status, [c_void_p, c_float_p, c_float_p, c_float_p, c_size_t,
                                     c_size_t, c_size_t, c_float_p]),
    "sm_net_jvp_cond": (status, [c_void_p, c_float_p, c_float_p, c_float_p, c_float_p, c_size_t,
                                 c_size_t, c_size_t, c_float_p, c_float_p]),
    "sm_net_width": (c_size_t, [c_void_p]),
    "sm_net_depth": (c_size_t, [c_void_p]),
    "sm_net_num_params": (c_size_t, [c_void_p]),
    "sm_net_params": (c_float_p, [c_void_p]),
    "sm_net_grads": (c_float_p, [c_void_p]),
    "sm_net_layer": (status, [c_void_p, c_size_t, c_size_t_p, c_size_t_p, c_size_t_p,
                              c_size_t_p]),
    "sm_net_copy_params": (status, [c_void_p, c_void_p]),
    "sm_net_set_threads": (status, [c_void_p, c_size_t]),
    "sm_net_threads": (c_size_t, [c_void_p]),
    "sm_net_set_kernels": (status, [c_void_p, c_int]),
    "sm_net_kernels": (c_char_p, [c_void_p]),
    "sm_net_default_threads": (c_size_t, []),
    "sm_net_reserve": (status, [c_void_p, c_size_t]),
    "sm_net_forward": (status, [c_void_p, c_float_p, c_float_p, c_size_t, c_size_t,
                                c_float_p]),
    "sm_net_forward_sigma": (status, [c_void_p, c_float_p, c_float, c_size_t, c_size_t,
                                      c_float_p]),
    "sm_net_forward_train": (status, [c_void_p, c_float_p, c_float_p, c_size_t, c_size_t,
                                      c_float_p]),
    "sm_net_backward": (status, [c_void_p, c_float_p, c_size_t, c_size_t]),
    "sm_net_zero_grad": (status, [c_void_p]),
    "sm_net_ema_update": (status, [c_void_p, c_void_p, c_double]),
    "sm_net_jvp": (status, [c_void_p, c_float_p, c_float_p, c_float_p, c_size_t, c_size_t,
                            c_float_p, c_float_p]),
    "sm_net_options_init": (status, [POINTER(NetOptions), c_uint]),
    "sm_net_new_ex": (status, [c_void_pp, POINTER(NetOptions), c_void_p]),
    "sm_net_get_options": (status, [c_void_p, POINTER(NetOptions)]),
    "sm_net_parametrization": (c_int, [c_void_p]),
    "sm_parametrization_name": (c_char_p, [c_int]),
    "sm_net_sigma_data": (c_double, [c_void_p]),
    "sm_net_set_sigma_data": (status, [c_void_p, c_double]),
    "sm_dataset_sigma_data": (status, [c_void_p, c_double_p]),
    "sm_trainer_set_sigma_sampling": (status, [c_void_p, c_int, c_double, c_double]),
    "sm_trainer_sigma_sampling": (c_int, [c_void_p]),
    "sm_trainer_set_lr_schedule": (status, [c_void_p, c_uint64, c_uint64, c_double]),
    "sm_trainer_set_context_dropout": (status, [c_void_p, c_double]),
    "sm_trainer_context_dropout": (c_double, [c_void_p]),
    "sm_net_set_normalization": (status, [c_void_p, c_float_p, c_float_p, c_size_t]),
    "sm_net_has_normalization": (c_int, [c_void_p]),
    "sm_net_get_normalization": (status, [c_void_p, c_float_p, c_float_p, c_size_t]),
    "sm_net_set_context_normalization": (status, [c_void_p, c_float_p, c_float_p, c_size_t]),
    "sm_net_has_context_normalization": (c_int, [c_void_p]),
    "sm_net_get_context_normalization": (status, [c_void_p, c_float_p, c_float_p, c_size_t]),
    "sm_net_to_data_units": (status, [c_void_p, c_float_p, c_size_t, c_size_t]),
    "sm_net_from_data_units": (status, [c_void_p, c_float_p, c_size_t, c_size_t]),
    "sm_net_denoise": (status, [c_void_p, c_float_p, c_float_p, c_size_t, c_size_t,
                                c_float_p]),
    # optim.h
    "sm_optim_new_adam": (status, [c_void_pp, c_size_t, c_double, c_double, c_double,
                                   c_double, c_double]),
    "sm_optim_new_sgd": (status, [c_void_pp, c_size_t, c_double, c_double, c_double]),
    "sm_optim_free": (None, [c_void_p]),
    "sm_optim_set_lr": (status, [c_void_p, c_double]),
    "sm_optim_lr": (c_double, [c_void_p]),
    "sm_optim_set_clip_norm": (status, [c_void_p, c_double]),
    "sm_optim_steps": (c_uint64, [c_void_p]),
    "sm_optim_reset": (status, [c_void_p]),
    "sm_optim_step": (status, [c_void_p, c_float_p, c_float_p, c_size_t]),
    "sm_optim_step_net": (status, [c_void_p, c_void_p]),
    # train.h
    "sm_dsm_loss": (status, [c_void_p, c_float_p, c_float_p, c_float_p, c_size_t, c_size_t,
                             c_int, c_double_p]),
    "sm_ssm_loss": (status, [c_void_p, c_float_p, c_float_p, c_float_p, c_float_p, c_size_t,
                             c_size_t, c_int, c_double_p]),
    "sm_dsm_loss_per_level": (status, [c_void_p, c_void_p, c_float_p, c_size_t, c_size_t,
                                       c_void_p, c_double_p, c_size_t]),
    "sm_trainer_set_objective": (status, [c_void_p, c_int]),
    "sm_trainer_new": (status, [c_void_pp, c_void_p, c_void_p, c_void_p, c_size_t]),
    "sm_trainer_free": (None, [c_void_p]),
    "sm_trainer_step": (status, [c_void_p, c_float_p, c_size_t, c_size_t, c_void_p,
                                 c_double_p]),
    "sm_trainer_set_ema": (status, [c_void_p, c_void_p, c_double]),
    "sm_trainer_set_grad_reduce": (status, [c_void_p, GRAD_REDUCE, c_void_p]),
    "sm_trainer_set_shard": (status, [c_void_p, c_size_t, c_size_t]),
    "sm_trainer_fit": (status, [c_void_p, c_void_p, c_uint64, c_void_p, TRAIN_CALLBACK,
                                c_void_p, c_double_p]),
    # sampler.h
    "sm_sampler_new": (status, [c_void_pp, c_void_p, c_void_p]),
    "sm_sampler_free": (None, [c_void_p]),
    "sm_sampler_set_kind": (status, [c_void_p, c_int]),
    "sm_sampler_get_kind": (c_int, [c_void_p]),
    "sm_sampler_kind_name": (c_char_p, [c_int]),
    "sm_sampler_kind_from_name": (status, [c_char_p, POINTER(c_int)]),
    "sm_sampler_set_churn": (status, [c_void_p, c_double, c_double, c_double, c_double]),
    "sm_sampler_set_context": (status, [c_void_p, c_float_p, c_size_t, c_size_t]),
    "sm_sampler_set_guidance": (status, [c_void_p, c_double, c_double, c_double]),
    "sm_sampler_set_corrector": (status, [c_void_p, c_size_t, c_double]),
    "sm_sampler_set_steps_per_scale": (status, [c_void_p, c_size_t]),
    "sm_sampler_set_step_ratio": (status, [c_void_p, c_double]),
    "sm_sampler_set_step_ncsn": (status, [c_void_p, c_double]),
    "sm_sampler_step_ratio": (c_double, [c_void_p]),
    "sm_sampler_set_noise": (status, [c_void_p, c_int]),
    "sm_sampler_set_init_normal": (status, [c_void_p, c_double]),
    "sm_sampler_set_init_uniform": (status, [c_void_p, c_double, c_double]),
    "sm_sampler_set_final_denoise": (status, [c_void_p, c_int]),
    "sm_sampler_set_callback": (status, [c_void_p, SAMPLER_CALLBACK, c_void_p]),
    "sm_sampler_run": (status, [c_void_p, c_void_p, c_float_p, c_size_t, c_size_t]),
    "sm_sampler_run_from": (status, [c_void_p, c_void_p, c_float_p, c_size_t, c_size_t]),
    "sm_sampler_nfe": (c_uint64, [c_void_p]),
    "sm_sampler_impute": (status, [c_void_p, c_void_p, c_float_p, c_void_p, c_size_t, c_size_t]),
    "sm_sampler_set_resample": (status, [c_void_p, c_size_t]),
    "sm_sampler_resample": (c_size_t, [c_void_p]),
    "sm_sampler_set_impute_draws": (status, [c_void_p, c_size_t]),
    "sm_sampler_impute_draws": (c_size_t, [c_void_p]),
    "sm_sampler_impute_spread": (status, [c_void_p, c_void_p, c_float_p, c_float_p, c_void_p,
                                          c_size_t, c_size_t]),
    # likelihood.h
    "sm_log_likelihood": (status, [c_void_p, c_void_p, c_float_p, c_size_t, c_size_t,
                                   c_double, c_size_t, c_void_p, c_double_p]),
}

# model.h: wrapped when the loaded library exports it (newer builds).
_OPTIONAL_PROTOTYPES = {
    "sm_model_save": (status, [c_char_p, c_void_p, c_void_p, c_void_p]),
    "sm_model_save_buffer": (status, [c_void_p, c_void_p, c_void_p, c_void_pp, c_size_t_p]),
    "sm_model_load": (status, [c_char_p, c_void_pp, c_void_pp, c_void_pp]),
    "sm_model_load_buffer": (status, [c_void_p, c_size_t, c_void_pp, c_void_pp, c_void_pp]),
    "sm_free": (None, [c_void_p]),
}

_lock = threading.Lock()
_lib = None
_lib_path = None


def _make_errcheck(cdll):
    last_error = cdll.sm_last_error
    strerror = cdll.sm_strerror

    def errcheck(result, func, args):
        if result != 0:
            # Read the thread-local message at once: nothing else has run on
            # this thread since the failing call.
            msg = last_error()
            raise errors.from_status(result, _decode(strerror(result)), _decode(msg),
                                     func.__name__)
        return result

    return errcheck


def _decode(b):
    return b.decode("utf-8", "replace") if b is not None else ""


def _installed_library():
    try:
        from . import _config
    except ImportError:
        return None
    path = getattr(_config, "LIBRARY", None)
    return path if path and os.path.exists(path) else None


def _candidates(path):
    if path is not None:
        return [os.fspath(path)], "the path argument"
    env = os.environ.get("SCOREMATCH_LIBRARY")
    if env:
        return [env], "SCOREMATCH_LIBRARY"
    cands = []
    # A copy installed by meson knows where the library was installed with
    # it (scorematch/_config.py, written at configure time); the source tree
    # and pip-installed copies have no _config and use the loader's path.
    # A stale path (a --destdir install, a moved prefix) is skipped.
    installed = _installed_library()
    if installed:
        cands.append(installed)
    found = ctypes.util.find_library("scorematch")
    if found:
        cands.append(found)
    cands.append("libscorematch.so.%d" % API_MAJOR)
    return cands, "the system library path"


def load_library(path=None):
    """Loads libscorematch and returns the ``ctypes.CDLL``.

    Order: the explicit *path*, else the environment variable
    ``SCOREMATCH_LIBRARY``, else (in a copy installed by ``meson install``)
    the library installed with the package, else
    ``ctypes.util.find_library('scorematch')``, else ``libscorematch.so.0``
    through the dynamic loader's search path.
    Every object uses the library loaded first; calling again with another
    path raises :class:`RuntimeError`. Called automatically on first use.
    """
    global _lib, _lib_path
    with _lock:
        if _lib is not None:
            if path is not None and os.path.realpath(os.fspath(path)) != \
                    os.path.realpath(_lib_path):
                raise RuntimeError("scorematch: library already loaded from %s; cannot "
                                   "switch to %s" % (_lib_path, os.fspath(path)))
            return _lib
        cands, source = _candidates(path)
        failures = []
        cdll = None
        for cand in cands:
            try:
                cdll = ctypes.CDLL(cand)
                chosen = cand
                break
            except OSError as exc:
                failures.append(str(exc))
        if cdll is None:
            raise OSError("scorematch: cannot load libscorematch (from %s): %s. Set "
                          "SCOREMATCH_LIBRARY to the path of libscorematch.so.%d."
                          % (source, "; ".join(failures) or "not found", API_MAJOR))
        _declare(cdll)
        major = cdll.sm_version_number() // 10000
        if major != API_MAJOR:
            raise OSError("scorematch: %s is version %s; these bindings need %d.x"
                          % (chosen, _decode(cdll.sm_version_string()), API_MAJOR))
        _lib, _lib_path = cdll, chosen
        return _lib


def _declare(cdll):
    # sm_last_error/sm_strerror get their prototypes first: errcheck uses them.
    for name in ("sm_last_error", "sm_strerror"):
        restype, argtypes = _PROTOTYPES[name]
        getattr(cdll, name).restype = restype
        getattr(cdll, name).argtypes = argtypes
    errcheck = _make_errcheck(cdll)
    for table, required in ((_PROTOTYPES, True), (_OPTIONAL_PROTOTYPES, False)):
        for name, (restype, argtypes) in table.items():
            try:
                fn = getattr(cdll, name)
            except AttributeError:
                if required:
                    raise OSError("scorematch: the library lacks %s (too old?)" % name)
                continue
            fn.argtypes = argtypes
            if restype is status:
                fn.restype = c_int
                fn.errcheck = errcheck
            else:
                fn.restype = restype


def lib():
    """The loaded library (loading it with the default search on first use)."""
    return _lib if _lib is not None else load_library()


def library_path():
    """The name or path the library was loaded from (loads it if needed)."""
    lib()
    return _lib_path


def has(name):
    """Whether the loaded library exports *name* (optional modules)."""
    if name in _PROTOTYPES:
        return True
    try:
        getattr(lib(), name)
    except AttributeError:
        return False
    return name in _OPTIONAL_PROTOTYPES

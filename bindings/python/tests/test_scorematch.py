#!/usr/bin/python3
"""Tests of the scorematch Python bindings (plain unittest).

Run from a build tree:

    SCOREMATCH_LIBRARY=build/lib/libscorematch.so.0 PYTHONPATH=bindings/python \\
        /usr/bin/python3 bindings/python/tests/test_scorematch.py

Exits with 77 (meson's "skipped") when NumPy is not importable.
"""

import ctypes
import gc
import math
import os
import signal
import sys
import tempfile
import threading
import time
import unittest
import weakref

try:
    import numpy as np
except ImportError:
    print("test_scorematch.py: NumPy is not importable with %s: skipped (install "
          "python3-numpy)" % sys.executable)
    sys.exit(77)

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))

import scorematch as sm  # noqa: E402
from scorematch import _ffi  # noqa: E402

try:
    sm.load_library()
except OSError as exc:
    # A library built with a sanitizer or fuzzer instrumentation cannot be
    # loaded into an uninstrumented interpreter: skip rather than fail.
    if any(s in str(exc) for s in ("__asan", "__ubsan", "__sanitizer", "__tsan", "ASan")):
        print("test_scorematch.py: instrumented library, cannot load it here: %s" % exc)
        sys.exit(77)
    raise


def small_net(seed=1, width=16, depth=2):
    return sm.Net(2, width, depth, rng=seed)


class LibraryTest(unittest.TestCase):
    def test_version(self):
        v = sm.version()
        parts = [int(p) for p in v.split(".")]
        self.assertEqual(len(parts), 3)
        self.assertEqual(sm.version_number(), parts[0] * 10000 + parts[1] * 100 + parts[2])
        self.assertEqual(sm.__version__, v)
        self.assertTrue(sm.blas_config())
        n = sm.default_threads()
        self.assertIsInstance(n, int)
        self.assertGreaterEqual(n, 1)
        self.assertLessEqual(n, min(256, len(os.sched_getaffinity(0))))
        net = sm.Net(2, 8, 1, threads=n)
        self.assertEqual(net.threads, n)
        self.assertIn(sm.kernel_config(), ("avx512", "avx2", "blis"))

    def test_kernel_choice(self):
        with sm.Rng(3) as rng, sm.Net(dim=3, width=32, depth=2, rng=rng) as net:
            self.assertEqual(net.kernels, sm.kernel_config())
            x = rng.normal_array((20, 3))
            sig = np.full(20, 0.5, dtype=np.float32)
            y_auto = net.forward(x, sig)
            net.kernels = "blis"
            self.assertEqual(net.kernels, "blis")
            np.testing.assert_allclose(net.forward(x, sig), y_auto, rtol=1e-4, atol=1e-5)
            with self.assertRaises(ValueError):
                net.kernels = "fast"
            self.assertEqual(net.kernels, "blis")
            net.kernels = "auto"
            self.assertEqual(net.kernels, sm.kernel_config())

    def test_loaded_from_environment(self):
        env = os.environ.get("SCOREMATCH_LIBRARY")
        if env:
            self.assertEqual(sm.library_path(), env)
            self.assertIs(sm.load_library(env), _ffi.lib())

    def test_cannot_switch_library(self):
        sm.version()
        with self.assertRaises(RuntimeError):
            sm.load_library("/nonexistent/libscorematch.so.0")

    def test_strerror(self):
        self.assertEqual(sm.strerror(0), sm.strerror(sm.errors.OK))
        self.assertNotEqual(sm.strerror(-4), sm.strerror(-5))
        self.assertEqual(sm.strerror(-12345), "unknown status")

    def test_every_function_declared(self):
        lib = _ffi.lib()
        for name, (restype, argtypes) in _ffi._PROTOTYPES.items():
            fn = getattr(lib, name)
            self.assertEqual(fn.argtypes, argtypes, name)
            if restype is _ffi.status:
                self.assertIs(fn.restype, ctypes.c_int, name)
                self.assertIsNotNone(fn.errcheck, name)
            else:
                self.assertIs(fn.restype, restype, name)

    def test_symbol_map_is_covered(self):
        # Every exported function of the version script is wrapped (or is one
        # of the optional model-file functions).
        src = os.environ.get("SCOREMATCH_SOURCE_ROOT")
        if not src:
            self.skipTest("SCOREMATCH_SOURCE_ROOT not set")
        with open(os.path.join(src, "lib", "libscorematch.map")) as f:
            names = {ln.strip().rstrip(";") for ln in f if ln.strip().startswith("sm_")}
        known = set(_ffi._PROTOTYPES) | set(_ffi._OPTIONAL_PROTOTYPES)
        self.assertEqual(names - known, set())


class ErrorTest(unittest.TestCase):
    def test_status_subclass_and_message(self):
        with self.assertRaises(sm.NonFiniteError) as cm:
            sm.Dataset([[1.0, 2.0], [3.0, float("nan")]])
        e = cm.exception
        self.assertIsInstance(e, sm.Error)
        self.assertIsInstance(e, ValueError)
        self.assertEqual(e.status, -5)
        self.assertEqual(e.strerror, sm.strerror(-5))
        self.assertIn("sm_dataset_new", e.message)
        self.assertIn("row 1, column 1", e.message)
        self.assertEqual(e.function, "sm_dataset_new")
        self.assertIn(e.message, str(e))
        # sm_last_error() on this thread still holds the same message
        self.assertEqual(sm.last_error(), e.message)
        sm.clear_error()
        self.assertEqual(sm.last_error(), "")

    def test_parse_error_names_line(self):
        with self.assertRaises(sm.ParseError) as cm:
            sm.Dataset.parse_csv("x,y\n1,2\n3\n")
        self.assertIn("line 3", cm.exception.message)
        self.assertEqual(cm.exception.status, sm.ParseError.status)

    def test_file_error(self):
        with self.assertRaises(sm.FileError) as cm:
            sm.Dataset.from_csv("/nonexistent/dir/points.csv")
        self.assertIn("/nonexistent/dir/points.csv", cm.exception.message)

    def test_invalid_argument_names_parameter(self):
        with self.assertRaises(sm.InvalidArgumentError) as cm:
            sm.circles(10, factor=1.5, rng=0)
        self.assertIn("factor", cm.exception.message)

    def test_negative_size_refused_before_c(self):
        with self.assertRaises(sm.InvalidArgumentError) as cm:
            sm.moons(-3, rng=0)
        self.assertIsNone(cm.exception.function)
        with self.assertRaises(TypeError):
            sm.moons(3.5, rng=0)

    def test_last_error_is_per_thread(self):
        sm.clear_error()
        seen = []

        def worker():
            try:
                sm.Schedule([1.0, 2.0])
            except sm.InvalidArgumentError as e:
                seen.append(e.message)
        t = threading.Thread(target=worker)
        t.start()
        t.join()
        self.assertEqual(len(seen), 1)
        self.assertIn("sm_schedule_new_from_array", seen[0])
        self.assertEqual(sm.last_error(), "")


class RngTest(unittest.TestCase):
    def test_reproducible(self):
        a, b = sm.Rng(42), sm.Rng(42)
        self.assertEqual([a.next_u64() for _ in range(5)], [b.next_u64() for _ in range(5)])
        a.reseed(7)
        c = sm.Rng(7)
        self.assertEqual(a.uniform(), c.uniform())

    def test_clone_split_jump(self):
        a = sm.Rng(1)
        c = a.clone()
        self.assertEqual(a.next_u64(), c.next_u64())
        child = a.split()
        self.assertNotEqual(child.next_u64(), a.next_u64())
        d = sm.Rng(1)
        d.jump()
        self.assertNotEqual(d.next_u64(), sm.Rng(1).next_u64())

    def test_scalars(self):
        r = sm.Rng(3)
        for _ in range(100):
            u = r.uniform()
            self.assertTrue(0.0 <= u < 1.0)
            self.assertTrue(0 <= r.below(10) < 10)
        self.assertTrue(math.isfinite(r.normal()))
        with self.assertRaises(sm.InvalidArgumentError):
            r.below(0)
        with self.assertRaises(sm.InvalidArgumentError):
            sm.Rng(-1)

    def test_arrays(self):
        r = sm.Rng(5)
        x = r.normal_array((20000,), mean=2.0, std=0.5)
        self.assertEqual(x.dtype, np.float32)
        self.assertAlmostEqual(float(x.mean()), 2.0, delta=0.02)
        self.assertAlmostEqual(float(x.std()), 0.5, delta=0.02)
        out = np.zeros((10, 3), np.float32)
        y = r.uniform_array((10, 3), lo=-1, hi=1, out=out)
        self.assertIs(y, out)  # filled in place, no copy
        self.assertTrue(np.all((out >= -1) & (out < 1)))
        with self.assertRaises(sm.InvalidArgumentError):
            r.normal_array(4, std=-1.0)
        with self.assertRaises(TypeError):
            r.normal_array(4, out=np.zeros(4))  # float64 out refused


class DatasetTest(unittest.TestCase):
    def test_round_trip(self):
        x = np.arange(12, dtype=np.float64).reshape(6, 2) / 7
        ds = sm.Dataset(x)
        self.assertEqual(ds.shape, (6, 2))
        self.assertEqual(len(ds), 6)
        self.assertEqual(ds.dim, 2)
        y = ds.to_numpy()
        self.assertEqual(y.dtype, np.float32)
        np.testing.assert_array_equal(y, x.astype(np.float32))
        y[0, 0] = 99  # a copy: the dataset is unchanged
        self.assertNotEqual(ds.to_numpy()[0, 0], 99)
        np.testing.assert_array_equal(np.asarray(ds), x.astype(np.float32))

    def test_shapes(self):
        with self.assertRaises(sm.ShapeError):
            sm.Dataset([1.0, 2.0, 3.0])
        with self.assertRaises(sm.InvalidArgumentError):
            sm.Dataset(np.zeros((0, 2)))

    def test_csv(self):
        x = np.random.default_rng(0).normal(size=(50, 3)).astype(np.float32)
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "pts.csv")
            sm.Dataset(x).to_csv(p)
            np.testing.assert_array_equal(sm.Dataset.from_csv(p).to_numpy(), x)
            q = os.path.join(d, "samples.csv")
            sm.write_csv(q, x[:5])
            np.testing.assert_array_equal(sm.Dataset.from_csv(q).to_numpy(), x[:5])
        ds = sm.Dataset.parse_csv(b"# comment\nx, y\n1, 2\n3,4\n")
        np.testing.assert_array_equal(ds.to_numpy(), [[1, 2], [3, 4]])

    def test_csv_header_rows(self):
        ds = sm.Dataset.parse_csv(b"\xef\xbb\xbfx,y\r1,2\r3,4\r")
        self.assertEqual(ds.header_rows, 1)
        np.testing.assert_array_equal(ds.to_numpy(), [[1, 2], [3, 4]])
        self.assertEqual(ds.clone().header_rows, 1)
        ds = sm.Dataset.parse_csv(b"\xef\xbb\xbf1,2\r\n3,4\r\n")
        self.assertEqual(ds.header_rows, 0)
        np.testing.assert_array_equal(ds.to_numpy(), [[1, 2], [3, 4]])
        self.assertEqual(sm.Dataset([[1.0, 2.0]]).header_rows, 0)
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "pts.csv")
            with open(p, "wb") as f:
                f.write(b"a,b\n5,6\n")
            self.assertEqual(sm.Dataset.from_csv(p).header_rows, 1)
        # A mistyped first row is an error, not a header.
        for text in ("2.O\n3\n", "1,,2\n3,4,5\n"):
            with self.assertRaises(sm.ParseError) as cm:
                sm.Dataset.parse_csv(text)
            self.assertIn("line 1, column", cm.exception.message)

    def test_csv_column_names(self):
        ds = sm.Dataset.parse_csv(b"x, \"y (m)\"\n1,2\n")
        self.assertEqual(ds.column_names, ["x", "y (m)"])
        self.assertEqual(ds.clone().column_names, ["x", "y (m)"])
        self.assertIsNone(sm.Dataset.parse_csv(b"1,2\n").column_names)
        self.assertIsNone(sm.Dataset([[1.0, 2.0]]).column_names)

    def test_csv_index_column(self):
        text = ",a,b\n0,1.5,2\n1,3,4\n2,5,6\n"
        with self.assertRaises(sm.ParseError) as cm:
            sm.Dataset.parse_csv(text)
        self.assertIn("column 1", cm.exception.message)
        self.assertIn("index column", cm.exception.message)
        ds = sm.Dataset.parse_csv(text, index_column="skip")
        np.testing.assert_array_equal(ds.to_numpy(), [[1.5, 2], [3, 4], [5, 6]])
        self.assertEqual(ds.column_names, ["a", "b"])
        ds = sm.Dataset.parse_csv(text, index_column="keep")
        np.testing.assert_array_equal(ds.to_numpy()[:, 0], [0, 1, 2])
        with self.assertRaises(ValueError):
            sm.Dataset.parse_csv(text, index_column="drop")
        x = sm.Dataset.read_csv_missing(text="Unnamed: 0,a,b\n1,,2\n2,3,4\n",
                                        index_column="skip")
        self.assertEqual(x.shape, (2, 2))
        self.assertTrue(np.isnan(x[0, 0]))
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "pts.csv")
            with open(p, "w") as f:
                f.write("index,x,y\n0,1,2\n1,3,4\n")
            with self.assertRaises(sm.ParseError):
                sm.Dataset.from_csv(p)
            with self.assertRaises(sm.ParseError):
                sm.Dataset.read_csv_missing(p)
            self.assertEqual(sm.Dataset.from_csv(p, index_column="skip").dim, 2)
            self.assertEqual(sm.Dataset.read_csv_missing(p, index_column="keep").shape, (2, 3))

    def test_csv_names_the_separator(self):
        with self.assertRaises(sm.ParseError) as cm:
            sm.Dataset.parse_csv("x;y\n1;2\n")
        self.assertIn("separated by ';'", cm.exception.message)
        with self.assertRaises(sm.ParseError) as cm:
            sm.Dataset.parse_csv("1\t2\n")
        self.assertIn("separated by tabs", cm.exception.message)

    def test_csv_refuses_special_files(self):
        with tempfile.TemporaryDirectory() as d:
            fifo = os.path.join(d, "pipe")
            os.mkfifo(fifo)
            for path, kind in (("/dev/zero", "character device"), (fifo, "FIFO"),
                               (d, "directory")):
                with self.assertRaises(sm.FileError) as cm:
                    sm.Dataset.from_csv(path)
                self.assertIn(kind, cm.exception.message)

    def test_write_csv_refuses_nonfinite(self):
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "samples.csv")
            for bad in (float("nan"), float("inf")):
                with self.assertRaises(sm.NonFiniteError) as cm:
                    sm.write_csv(p, [[1.0, 2.0], [3.0, bad]])
                self.assertIn("row 1, column 1", cm.exception.message)
                self.assertFalse(os.path.exists(p))
            self.assertEqual(os.listdir(d), [])

    def test_labels(self):
        ds = sm.Dataset(np.zeros((4, 2)), labels=[0, 2, 1, 2])
        np.testing.assert_array_equal(ds.labels, [0, 2, 1, 2])
        self.assertEqual(ds.labels.dtype, np.int32)
        self.assertEqual(ds.num_labels, 3)
        with self.assertRaises(sm.ShapeError):
            ds.set_labels([0, 1])
        with self.assertRaises(sm.InvalidArgumentError):
            ds.set_labels([0, -1, 0, 0])
        ds.set_labels(None)
        self.assertIsNone(ds.labels)
        self.assertEqual(ds.num_labels, 0)

    def test_standardize(self):
        rng = np.random.default_rng(1)
        x = rng.normal([3.0, -2.0], [2.0, 0.5], size=(1000, 2))
        ds = sm.Dataset(x)
        self.assertFalse(ds.is_standardized)
        mean, std = ds.standardization
        np.testing.assert_array_equal(mean, [0, 0])
        np.testing.assert_array_equal(std, [1, 1])
        self.assertIs(ds.standardize(), ds)
        self.assertTrue(ds.is_standardized)
        z = ds.to_numpy()
        np.testing.assert_allclose(z.mean(0), 0, atol=1e-5)
        np.testing.assert_allclose(z.std(0), 1, atol=1e-5)
        mean, std = ds.standardization
        np.testing.assert_allclose(mean, x.mean(0), rtol=1e-5)
        np.testing.assert_allclose(std, x.std(0), rtol=1e-5)
        back = ds.unstandardize_points(z)
        np.testing.assert_allclose(back, x, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(ds.standardize_points(back), z, atol=1e-5)
        # in place: the same array object, changed
        w = z[:3].copy()
        self.assertIs(ds.unstandardize_points(w, inplace=True), w)
        np.testing.assert_allclose(w, x[:3], rtol=1e-4, atol=1e-4)
        with self.assertRaises(TypeError):
            ds.unstandardize_points(x[:3], inplace=True)  # float64: refused
        with self.assertRaises(sm.ShapeError):
            ds.standardize_points(np.zeros((2, 3)))

    def test_clone_is_independent(self):
        ds = sm.Dataset([[1.0, 2.0], [3.0, 5.0]])
        c = ds.clone()
        c.standardize()
        self.assertFalse(ds.is_standardized)
        np.testing.assert_array_equal(ds.to_numpy(), [[1, 2], [3, 5]])


class ToyTest(unittest.TestCase):
    def test_moons(self):
        a = sm.moons(1000, noise=0.05, rng=0)
        b = sm.Dataset.moons(1000, noise=0.05, rng=sm.Rng(0))
        np.testing.assert_array_equal(a.to_numpy(), b.to_numpy())
        self.assertEqual(a.shape, (1000, 2))
        self.assertEqual(a.num_labels, 2)
        self.assertEqual(int((a.labels == 0).sum()), 500)
        c = sm.moons(7, noise=0.0, shuffle=False, rng=0).to_numpy()
        np.testing.assert_allclose(c[0], [1.0, 0.0], atol=1e-7)  # t = 0 of moon 0

    def test_others(self):
        self.assertEqual(sm.circles(100, noise=0.01, factor=0.5, rng=0).shape, (100, 2))
        b = sm.blobs(90, centers=3, dim=4, cluster_std=0.1, rng=0)
        self.assertEqual(b.shape, (90, 4))
        self.assertEqual(b.num_labels, 3)
        centers = np.array([[0, 0], [10, 10]], np.float32)
        b2 = sm.blobs(100, centers=centers, cluster_std=0.0, rng=0).to_numpy()
        self.assertEqual({tuple(r) for r in b2.tolist()}, {(0.0, 0.0), (10.0, 10.0)})
        gm = sm.gaussian_mixture(200, means=[[0, 0, 0], [5, 5, 5]], stds=[0.1, 0.1],
                                 weights=[1, 3], rng=0)
        self.assertEqual(gm.shape, (200, 3))
        ds, t = sm.swiss_roll(50, rng=0, return_t=True)
        self.assertEqual(t.shape, (50,))
        np.testing.assert_allclose(np.hypot(*ds.to_numpy().T), t, rtol=1e-5)
        self.assertEqual(sm.spirals(64, noise=0.1, rng=0).num_labels, 2)
        cb = sm.checkerboard(400, rng=0).to_numpy()
        self.assertTrue(np.all((cb >= -4) & (cb < 4)))
        self.assertEqual(sm.eight_gaussians(80, rng=0).num_labels, 8)
        self.assertEqual(sm.pinwheel(100, n_arms=4, rng=0).num_labels, 4)
        with self.assertRaises(sm.ShapeError):
            sm.gaussian_mixture(10, means=[[0, 0]], stds=[1, 2], rng=0)


class ScheduleTest(unittest.TestCase):
    def test_geometric(self):
        s = sm.Schedule.geometric(1.0, 0.01, 10)
        self.assertEqual(len(s), 10)
        self.assertEqual(s.levels, 10)
        np.testing.assert_allclose(s.sigmas, np.geomspace(1.0, 0.01, 10), rtol=1e-6)
        self.assertAlmostEqual(s[0], 1.0, places=6)
        self.assertAlmostEqual(s[-1], 0.01, places=6)
        self.assertEqual(len(list(s)), 10)
        with self.assertRaises(IndexError):
            s[10]
        with self.assertRaises(IndexError):
            s[-11]
        np.testing.assert_array_equal(s[1:3], s.sigmas[1:3])

    def test_linear_and_array(self):
        s = sm.Schedule.linear(1.0, 0.1, 4)
        np.testing.assert_allclose(s.sigmas, [1.0, 0.7, 0.4, 0.1], rtol=1e-6)
        a = sm.Schedule([3.0, 2.0, 1.0])
        np.testing.assert_array_equal(np.asarray(a), [3, 2, 1])
        np.testing.assert_array_equal(sm.Schedule.from_array((2.0, 1.0)).sigmas, [2, 1])
        with self.assertRaises(sm.InvalidArgumentError) as cm:
            sm.Schedule([1.0, 0.5, 0.7])
        self.assertIn("sigma[2]", cm.exception.message)
        with self.assertRaises(sm.InvalidArgumentError):
            sm.Schedule.geometric(0.01, 1.0, 10)

    def test_suggest(self):
        x = np.array([[0, 0], [3, 4], [1, 1]], np.float32)
        self.assertAlmostEqual(sm.Schedule.suggest_sigma_max(x), 5.0, places=5)
        self.assertAlmostEqual(sm.Schedule.suggest_sigma_max(sm.Dataset(x)), 5.0, places=5)


class NetTest(unittest.TestCase):
    def test_shape_and_params(self):
        net = sm.Net(2, 8, 2, rng=0)
        self.assertEqual((net.dim, net.width, net.depth), (2, 8, 2))
        self.assertEqual(net.num_params, (3 * 8 + 8) + (8 * 8 + 8) + (8 * 2 + 2))
        p = net.params
        self.assertEqual(p.dtype, np.float32)
        self.assertEqual(p.shape, (net.num_params,))
        self.assertTrue(p.flags.writeable)
        bound = 1 / math.sqrt(3)
        w0, b0 = net.layer_params(0)
        self.assertEqual(w0.shape, (8, 3))
        self.assertEqual(b0.shape, (8,))
        self.assertTrue(np.all(np.abs(w0) <= bound))
        self.assertEqual(net.layer(2), sm.Layer(net.num_params - 18, net.num_params - 2, 8, 2))
        with self.assertRaises(sm.InvalidArgumentError):
            net.layer(3)
        # same seed, same initialisation
        np.testing.assert_array_equal(sm.Net(2, 8, 2, rng=0).params, p)

    def test_params_view_is_zero_copy(self):
        net = small_net()
        a, b = net.params, net.params
        self.assertTrue(np.shares_memory(a, b))
        x = np.zeros((1, 2), np.float32)
        before = net.forward(x, 0.5).copy()
        _w, bias = net.layer_params(net.depth)  # output layer bias
        bias += 1.0  # written through the view
        after = net.forward(x, 0.5)
        np.testing.assert_allclose(after, before + 1.0, rtol=1e-6)
        self.assertTrue(np.shares_memory(bias, net.params))
        # copies are copies
        c = net.get_weights()
        self.assertFalse(np.shares_memory(c, net.params))
        net.set_weights(np.zeros(net.num_params))
        self.assertEqual(float(np.abs(net.params).max()), 0.0)
        with self.assertRaises(sm.ShapeError):
            net.set_weights(np.zeros(3))

    def test_get_params_deprecated_alias(self):
        # The old names (scikit-learn's get_params means something else)
        # still work, with a DeprecationWarning.
        net = small_net()
        with self.assertWarns(DeprecationWarning):
            p = net.get_params()
        np.testing.assert_array_equal(p, net.get_weights())
        with self.assertWarns(DeprecationWarning):
            net.set_params(p + 1.0)
        np.testing.assert_array_equal(net.get_weights(), (p + 1.0).astype(np.float32))

    def test_view_keeps_net_alive(self):
        net = small_net()
        view = net.params
        expected = view.copy()
        res = weakref.ref(net._res)
        net.close()
        del net
        gc.collect()
        self.assertIsNotNone(res())  # the C network lives while the view does
        np.testing.assert_array_equal(view, expected)
        sub = view[:10]
        del view
        gc.collect()
        self.assertIsNotNone(res())  # a view of the view still holds it
        del sub
        gc.collect()
        self.assertIsNone(res())  # now freed

    def test_forward(self):
        net = small_net()
        x = np.random.default_rng(0).normal(size=(33, 2))
        y1 = net.forward(x, 0.3)
        self.assertEqual(y1.shape, (33, 2))
        self.assertEqual(y1.dtype, np.float32)
        y2 = net(x, np.full(33, 0.3))
        np.testing.assert_allclose(y1, y2, rtol=1e-6, atol=1e-7)
        out = np.empty((33, 2), np.float32)
        self.assertIs(net.forward(x, 0.3, out=out), out)
        with self.assertRaises(sm.ShapeError):
            net.forward(np.zeros((3, 3)), 1.0)
        with self.assertRaises(sm.ShapeError):
            net.forward(x, np.ones(5))
        with self.assertRaises(sm.ShapeError):
            net.forward(x, 0.3, out=np.empty((32, 2), np.float32))
        with self.assertRaises(sm.InvalidArgumentError) as cm:
            net.forward(x, -1.0)
        self.assertIn("sigma", cm.exception.message)

    def test_threads_clone_copy(self):
        net = small_net(width=64)
        x = np.random.default_rng(2).normal(size=(500, 2))
        y1 = net.forward(x, 0.2)
        net.threads = 2
        self.assertEqual(net.threads, 2)
        np.testing.assert_allclose(net.forward(x, 0.2), y1, rtol=1e-5, atol=1e-6)
        with self.assertRaises(sm.InvalidArgumentError):
            net.threads = 0
        c = net.clone()
        self.assertEqual(c.threads, 2)
        c.params[:] = 0
        self.assertNotEqual(float(np.abs(net.params).max()), 0.0)
        c.copy_params_from(net)
        np.testing.assert_array_equal(c.params, net.params)
        with self.assertRaises(sm.ShapeError):
            c.copy_params_from(sm.Net(2, 8, 1, rng=0))
        # Exponential moving average: θ ← d·θ + (1 − d)·θ_net.
        c.params[:] = 0
        c.ema_update(net, 0.25)
        np.testing.assert_allclose(c.params, 0.75 * net.params, rtol=1e-6)
        with self.assertRaises(sm.InvalidArgumentError):
            c.ema_update(net, 2.0)

    def test_dsm_loss_gradient(self):
        net = sm.Net(2, 8, 1, rng=3)
        rng = np.random.default_rng(3)
        x = rng.normal(size=(16, 2)).astype(np.float32)
        sig = np.geomspace(1.0, 0.1, 16).astype(np.float32)
        eps = rng.normal(size=(16, 2)).astype(np.float32)
        net.reserve(16)
        net.zero_grad()
        loss = net.dsm_loss(x, sig, eps, with_grad=True)
        self.assertTrue(math.isfinite(loss) and loss > 0)
        g = net.grads.astype(np.float64).copy()
        self.assertGreater(np.abs(g).max(), 0)
        self.assertEqual(loss, net.dsm_loss(x, sig, eps))  # no grad: same value
        d = rng.normal(size=net.num_params)
        d /= np.linalg.norm(d)
        p0 = net.get_weights()
        h = 1e-2
        net.set_weights(p0 + h * d)
        lp = net.dsm_loss(x, sig, eps)
        net.set_weights(p0 - h * d)
        lm = net.dsm_loss(x, sig, eps)
        net.set_weights(p0)
        self.assertAlmostEqual((lp - lm) / (2 * h), float(g @ d), delta=0.05 * abs(g @ d) + 1e-3)
        net.zero_grad()
        self.assertEqual(float(np.abs(net.grads).max()), 0.0)

    def test_jvp(self):
        net = small_net(width=32)
        rng = np.random.default_rng(5)
        x = rng.normal(size=(40, 2)).astype(np.float32)
        sig = np.geomspace(2.0, 0.05, 40).astype(np.float32)
        v = rng.normal(size=(40, 2)).astype(np.float32)
        out, jv = net.jvp(x, sig, v)
        self.assertEqual(out.shape, (40, 2))
        self.assertEqual(jv.shape, (40, 2))
        self.assertEqual(out.dtype, np.float32)
        self.assertEqual(jv.dtype, np.float32)
        np.testing.assert_allclose(out, net.forward(x, sig), rtol=1e-5, atol=1e-6)
        # J·v against a central finite difference of the forward pass (in float64
        # arithmetic on the float32 results; h balances truncation and rounding).
        h = 1e-2
        fd = (net.forward(x + h * v, sig).astype(np.float64) -
              net.forward(x - h * v, sig).astype(np.float64)) / (2 * h)
        np.testing.assert_allclose(jv, fd, rtol=1e-2, atol=2e-3 * np.abs(fd).max())
        # Linear in v; a scalar sigma is broadcast to every row.
        np.testing.assert_allclose(net.jvp(x, sig, -2 * v)[1], -2 * jv, rtol=1e-5, atol=1e-6)
        o1, j1 = net.jvp(x, 0.3, v)
        o2, j2 = net.jvp(x, np.full(40, 0.3), v)
        np.testing.assert_array_equal(o1, o2)
        np.testing.assert_array_equal(j1, j2)
        with self.assertRaises(sm.ShapeError):
            net.jvp(x, sig, v[:5])
        with self.assertRaises(sm.ShapeError):
            net.jvp(x, sig[:5], v)
        with self.assertRaises(sm.InvalidArgumentError):
            net.jvp(x, -1.0, v)
        with self.assertRaises(sm.NonFiniteError):
            net.jvp(x, sig, np.full((40, 2), np.nan))

    def test_ssm_loss(self):
        net = sm.Net(2, 8, 1, rng=6)
        rng = np.random.default_rng(6)
        n = 24
        x = rng.normal(size=(n, 2)).astype(np.float32)
        sig = np.geomspace(1.0, 0.1, n).astype(np.float32)
        eps = rng.normal(size=(n, 2)).astype(np.float32)
        v = rng.normal(size=(n, 2)).astype(np.float32)
        loss = net.ssm_loss(x, sig, eps, v)
        # loss = 1/(n·dim) Σ_r σ_r² (v_rᵀ J_r v_r + ½‖s_r‖²) at x̃ = x + σε (train.h)
        xt = x + sig[:, None] * eps
        s, jv = net.jvp(xt, sig, v)
        s, jv = s.astype(np.float64), jv.astype(np.float64)
        ref = np.sum(sig.astype(np.float64) ** 2 *
                     (np.sum(v * jv, axis=1) + 0.5 * np.sum(s * s, axis=1))) / (n * 2)
        self.assertAlmostEqual(loss, ref, delta=1e-5 * abs(ref) + 1e-7)
        # The gradient: same value, and it matches a finite difference.
        net.zero_grad()
        self.assertAlmostEqual(net.ssm_loss(x, sig, eps, v, with_grad=True), loss, places=12)
        g = net.grads.astype(np.float64).copy()
        self.assertGreater(np.abs(g).max(), 0)
        d = rng.normal(size=net.num_params)
        d /= np.linalg.norm(d)
        p0 = net.get_weights()
        h = 1e-2
        net.set_weights(p0 + h * d)
        lp = net.ssm_loss(x, sig, eps, v)
        net.set_weights(p0 - h * d)
        lm = net.ssm_loss(x, sig, eps, v)
        net.set_weights(p0)
        self.assertAlmostEqual((lp - lm) / (2 * h), float(g @ d), delta=0.05 * abs(g @ d) + 1e-3)
        with self.assertRaises(sm.ShapeError):
            net.ssm_loss(x, sig, eps, v[:3])
        with self.assertRaises(sm.NonFiniteError):
            net.ssm_loss(x, sig, eps, np.full((n, 2), np.inf))

    def test_dsm_loss_per_level(self):
        net = small_net()
        sched = sm.Schedule.geometric(1.0, 0.01, 6)
        x = sm.moons(300, noise=0.05, rng=0).standardize().to_numpy()
        losses = net.dsm_loss_per_level(sched, x, rng=7)
        self.assertEqual(losses.shape, (6,))
        self.assertEqual(losses.dtype, np.float64)
        self.assertTrue(np.all(np.isfinite(losses)))
        self.assertTrue(np.all(losses > 0))
        # Level i is sm_dsm_loss at σ_i with fresh normal noise from the rng.
        r = sm.Rng(7)
        for i, s in enumerate(sched):
            self.assertAlmostEqual(losses[i], net.dsm_loss(x, s, r.normal_array(x.shape)),
                                   delta=1e-6 * losses[i])
        np.testing.assert_array_equal(losses, net.dsm_loss_per_level(sched, x, rng=sm.Rng(7)))
        # A zero network: σ²·ε² per element, whose mean is close to 1 at every level.
        zero = small_net()
        zero.params[:] = 0
        np.testing.assert_allclose(zero.dsm_loss_per_level(sched, x, rng=8), 1.0, atol=0.15)
        with self.assertRaises(sm.ShapeError):
            net.dsm_loss_per_level(sched, np.zeros((4, 3)))
        with self.assertRaises(TypeError):
            net.dsm_loss_per_level(sched.sigmas, x)

    def test_forward_train_backward(self):
        net = sm.Net(2, 8, 1, rng=4)
        x = np.ones((4, 2), np.float32)
        with self.assertRaises(sm.StateError):
            net.forward_train(x, 0.5)  # no workspace reserved
        net.reserve(4)
        out = net.forward_train(x, 0.5)
        np.testing.assert_allclose(out, net.forward(x, 0.5), rtol=1e-6)
        with self.assertRaises(sm.StateError):
            net.backward(np.ones((4, 2)))  # the inference pass discarded the activations
        net.forward_train(x, 0.5)
        net.zero_grad()
        net.backward(np.ones((4, 2)))
        self.assertGreater(float(np.abs(net.grads).max()), 0.0)


class OptimTest(unittest.TestCase):
    def test_sgd_on_arrays(self):
        opt = sm.SGD(2, lr=0.1)
        p = np.array([1.0, 2.0], np.float32)
        opt.step(p, [0.5, -1.0])
        np.testing.assert_allclose(p, [0.95, 2.1], rtol=1e-6)
        self.assertEqual(opt.steps, 1)
        self.assertEqual(opt.num_params, 2)
        with self.assertRaises(TypeError):
            opt.step(np.array([1.0, 2.0]), [0, 0])  # float64 params cannot be updated in place
        with self.assertRaises(sm.ShapeError):
            opt.step(p, [1.0])
        with self.assertRaises(sm.NonFiniteError) as cm:
            opt.step(p, [float("inf"), 0.0])
        self.assertIn("gradient 0", cm.exception.message)
        np.testing.assert_allclose(p, [0.95, 2.1], rtol=1e-6)  # unchanged
        opt.reset()
        self.assertEqual(opt.steps, 0)

    def test_adam(self):
        net = small_net()
        opt = sm.Adam(net, lr=1e-3)
        self.assertEqual(opt.num_params, net.num_params)
        self.assertAlmostEqual(opt.lr, 1e-3)
        opt.lr = 5e-4
        self.assertAlmostEqual(opt.lr, 5e-4)
        with self.assertRaises(sm.InvalidArgumentError):
            opt.lr = -1
        opt.set_clip_norm(1.0)
        with self.assertRaises(sm.InvalidArgumentError):
            opt.set_clip_norm(-1.0)
        net.grads[:] = 1.0
        p0 = net.get_weights()
        opt.step_net(net)
        self.assertEqual(opt.steps, 1)
        # Adam's first step moves every parameter by lr against the gradient sign
        np.testing.assert_allclose(net.params, p0 - 5e-4, atol=1e-6)
        with self.assertRaises(sm.ShapeError):
            sm.Adam(10).step_net(net)
        with self.assertRaises(TypeError):
            sm.Optim()


class TrainerTest(unittest.TestCase):
    def setUp(self):
        self.data = sm.moons(1000, noise=0.05, rng=0).standardize()
        self.sched = sm.Schedule.geometric(1.0, 0.01, 10)

    def make(self, seed=1, lr=3e-3, batch=128):
        net = sm.Net(2, 32, 2, rng=seed)
        return net, sm.Trainer(net, self.sched, sm.Adam(net, lr=lr), batch_size=batch)

    def test_loss_decreases(self):
        net, tr = self.make()
        # The DSM loss on fixed noise: every level 100 times, fixed eps.
        x = self.data.to_numpy()
        sig = np.repeat(self.sched.sigmas, 100)
        eps = sm.Rng(9).normal_array(x.shape)
        before = net.dsm_loss(x, sig, eps)
        losses = []
        final = tr.fit(self.data, 600, rng=2, callback=lambda s, t, l: losses.append(l))
        after = net.dsm_loss(x, sig, eps)
        self.assertEqual(len(losses), 600)
        self.assertTrue(all(math.isfinite(v) for v in losses))
        # ~0.95 -> ~0.85 (the floor of this loss is ~0.75, see train.h)
        self.assertLess(after, before - 0.05)
        self.assertLess(np.mean(losses[-100:]), np.mean(losses[:5]) - 0.05)
        self.assertAlmostEqual(final, np.mean(losses[-100:]), places=9)
        self.assertEqual(tr.optim.steps, 600)

    def test_reproducible_and_array_input(self):
        _, a = self.make()
        _, b = self.make()
        la = a.fit(self.data, 20, rng=5)
        lb = b.fit(self.data.to_numpy(), 20, rng=sm.Rng(5))  # an array works too
        self.assertEqual(la, lb)
        np.testing.assert_array_equal(a.net.params, b.net.params)

    def test_grad_reduce_identity_keeps_the_bits(self):
        _, a = self.make()
        _, b = self.make()
        seen = []

        def same(values):
            seen.append(values.shape)  # changes nothing: returns None

        b.set_grad_reduce(same)
        b.set_shard(0, 1)
        a.fit(self.data, 10, rng=3)
        b.fit(self.data, 10, rng=3)
        np.testing.assert_array_equal(a.net.params, b.net.params)
        self.assertEqual(seen, [(a.net.num_params,), (1,)] * 10)
        b.set_grad_reduce(None)
        b.fit(self.data, 2, rng=3)
        self.assertEqual(len(seen), 20)

    def test_grad_reduce_in_threads_matches_one_trainer(self):
        # Two "ranks" in two threads, each computing half of every batch of
        # 64; the reduction averages through a barrier (ctypes lets go of
        # the GIL during the C call). Same steps as one trainer up to float
        # summation order (tolerance: see tests/test-mpi.c).
        barrier = threading.Barrier(2)
        slots = [None, None]
        result = {}

        def rank_run(rank):
            _, tr = self.make(batch=64)

            def mean(values):
                slots[rank] = values.copy()
                barrier.wait()
                out = (slots[0] + slots[1]) / np.float32(2)
                barrier.wait()
                return out

            tr.set_grad_reduce(mean)
            tr.set_shard(rank, 2)
            result[rank] = (tr.fit(self.data, 30, rng=4), tr.net.params.copy())

        threads = [threading.Thread(target=rank_run, args=(r,)) for r in (0, 1)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        _, one = self.make(batch=64)
        loss = one.fit(self.data, 30, rng=4)
        np.testing.assert_array_equal(result[0][1], result[1][1])
        self.assertEqual(result[0][0], result[1][0])
        np.testing.assert_allclose(result[0][1], one.net.params, rtol=0, atol=1e-5)
        self.assertAlmostEqual(result[0][0], loss, delta=1e-4)

    def test_grad_reduce_exception_keeps_the_state(self):
        _, tr = self.make()
        tr.fit(self.data, 3, rng=0)
        before = tr.net.params.copy()

        def broken(values):
            raise RuntimeError("network down")

        tr.set_grad_reduce(broken)
        with self.assertRaisesRegex(RuntimeError, "network down"):
            tr.fit(self.data, 5, rng=0)
        with self.assertRaisesRegex(RuntimeError, "network down"):
            tr.step(self.data.to_numpy()[:8], rng=0)
        np.testing.assert_array_equal(tr.net.params, before)
        self.assertEqual(tr.optim.steps, 3)
        tr.set_grad_reduce(lambda v: np.zeros(3))  # wrong size
        with self.assertRaises(ValueError):
            tr.step(self.data.to_numpy()[:8], rng=0)
        self.assertEqual(tr.optim.steps, 3)
        with self.assertRaises(TypeError):
            tr.set_grad_reduce(3)
        for rank, ranks in ((0, 0), (2, 2), (0, 129), (-1, 2)):
            with self.assertRaises((sm.Error, TypeError, ValueError)):
                tr.set_shard(rank, ranks)

    def test_callback_every(self):
        _, tr = self.make()
        steps = []
        tr.fit(self.data, 25, rng=0, callback=lambda s, t, l: steps.append((s, t)), every=10)
        self.assertEqual(steps, [(10, 25), (20, 25), (25, 25)])

    def test_callback_stop(self):
        _, tr = self.make()
        loss = tr.fit(self.data, 100, rng=0, callback=lambda s, t, l: s >= 7)
        self.assertTrue(math.isfinite(loss))
        self.assertEqual(tr.optim.steps, 7)

    def test_callback_exception(self):
        _, tr = self.make()

        def cb(step, total, loss):
            if step == 3:
                raise KeyError("boom at step 3")
        with self.assertRaises(KeyError) as cm:
            tr.fit(self.data, 100, rng=0, callback=cb)
        self.assertIn("boom", str(cm.exception))
        self.assertEqual(tr.optim.steps, 3)  # stopped right there
        # the trainer is still usable
        self.assertTrue(math.isfinite(tr.fit(self.data, 2, rng=0)))

    def test_ctrl_c_stops_fit(self):
        _, tr = self.make()
        timer = threading.Timer(0.2, lambda: os.kill(os.getpid(), signal.SIGINT))
        timer.start()
        try:
            with self.assertRaises(KeyboardInterrupt):
                tr.fit(self.data, 10 ** 7, rng=0)
        finally:
            timer.cancel()
        self.assertLess(tr.optim.steps, 10 ** 7)
        self.assertIs(signal.getsignal(signal.SIGINT), signal.default_int_handler)

    def test_step(self):
        _, tr = self.make(batch=16)
        loss = tr.step(self.data.to_numpy()[:16], rng=0)
        self.assertTrue(math.isfinite(loss))
        with self.assertRaises(sm.Error):
            tr.step(self.data.to_numpy()[:17], rng=0)  # more rows than the batch

    def test_diverged(self):
        net = sm.Net(2, 16, 1, rng=0)
        tr = sm.Trainer(net, self.sched, sm.SGD(net, lr=1e6), batch_size=64)
        with self.assertRaises(sm.DivergedError) as cm:
            tr.fit(self.data, 50, rng=1)
        self.assertIn("sm_trainer_fit", cm.exception.message)
        self.assertIn("at step", cm.exception.message)
        self.assertTrue(hasattr(cm.exception, "final_loss"))
        self.assertTrue(np.all(np.isfinite(net.params)))

    def test_objective(self):
        net, tr = self.make()
        self.assertEqual(tr.objective, "dsm")
        x = self.data.to_numpy()
        sig = np.repeat(self.sched.sigmas, 100)
        eps = sm.Rng(9).normal_array(x.shape)
        before = net.dsm_loss(x, sig, eps)
        net2 = sm.Net(2, 32, 2, rng=1)
        ssm = sm.Trainer(net2, self.sched, sm.Adam(net2, lr=3e-3), batch_size=128,
                         objective="ssm")
        self.assertEqual(ssm.objective, "ssm")
        self.assertIn("objective=ssm", repr(ssm))
        losses = []
        final = ssm.fit(self.data, 600, rng=2, callback=lambda s, t, l: losses.append(l))
        self.assertTrue(math.isfinite(final))
        self.assertTrue(all(math.isfinite(v) for v in losses))
        self.assertTrue(math.isfinite(ssm.step(x[:128], rng=3)))
        # SSM minimises the same thing as DSM: the DSM loss falls too.
        self.assertLess(net2.dsm_loss(x, sig, eps), before - 0.05)
        # Unlike the DSM loss, the SSM loss goes below 0 once the net has learned.
        self.assertLess(np.mean(losses[-100:]), 0.0)
        with self.assertRaises(ValueError):
            ssm.objective = "foo"
        self.assertEqual(ssm.objective, "ssm")
        ssm.objective = "dsm"
        self.assertEqual(ssm.objective, "dsm")
        self.assertGreater(ssm.step(x[:128], rng=3), 0.0)
        with self.assertRaises(ValueError):
            sm.Trainer(net, self.sched, sm.Adam(net), objective="foo")
        with self.assertRaises(ValueError):
            sm.Trainer(net, self.sched, sm.Adam(net), objective=1)

    def test_keeps_borrowed_handles_alive(self):
        net, tr = self.make()
        res = weakref.ref(net._res)
        net.close()
        tr.schedule.close()
        gc.collect()
        self.assertIsNotNone(res())
        self.assertTrue(math.isfinite(tr.fit(self.data, 3, rng=0)))
        tr.close()
        del tr
        gc.collect()
        self.assertIsNone(res())

    def test_types(self):
        net = small_net()
        with self.assertRaises(TypeError):
            sm.Trainer(net, net, sm.Adam(net))


class SamplerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.data = sm.moons(1000, noise=0.05, rng=0).standardize()
        cls.sched = sm.Schedule.geometric(1.0, 0.01, 10)
        cls.net = sm.Net(2, 32, 2, rng=1)
        tr = sm.Trainer(cls.net, cls.sched, sm.Adam(cls.net, lr=3e-3), batch_size=128)
        tr.fit(cls.data, 300, rng=2)

    def test_impute(self):
        grid = sm.Schedule.karras(1.0, 0.01, 6)
        s = sm.Sampler(self.net, grid, kind="edm-heun")
        x = np.array([[0.5, np.nan], [np.nan, -0.25], [1.0, 2.0], [np.nan, np.nan]],
                     dtype=np.float32)
        y = s.impute(x, rng=3)
        self.assertTrue(np.all(np.isfinite(y)))
        self.assertEqual((y[0, 0], y[1, 1]), (np.float32(0.5), np.float32(-0.25)))
        self.assertTrue(np.array_equal(y[2], x[2]))
        self.assertTrue(np.isnan(x[0, 1]))  # the input is not changed
        self.assertTrue(np.array_equal(s.impute(x, rng=3), y))
        # An explicit mask: the masked-out values are ignored.
        mask = ~np.isnan(x)
        z = s.impute(np.nan_to_num(x, nan=7.0), mask, rng=3)
        self.assertTrue(np.array_equal(z, y))
        r = sm.Dataset.read_csv_missing(text="a,b\n0.5,\nnan,-0.25\n1,2\n,\n")
        self.assertTrue(np.array_equal(np.isnan(r), np.isnan(x)))
        self.assertTrue(np.array_equal(s.impute(r, rng=3), y))
        with self.assertRaises(sm.NonFiniteError):
            sm.Dataset.read_csv_missing(text="1,inf\n")
        s.set_resample(2)
        self.assertEqual(s.resample, 2)
        s.impute(x, rng=3)
        self.assertEqual(s.nfe, 3 * (2 * 6 - 1))
        with self.assertRaises(ValueError):
            s.impute(x, mask.astype(np.int32))
        with self.assertRaises(ValueError):
            s.impute(x[:, :1])
        with self.assertRaises(sm.NonFiniteError):
            s.impute(x, np.ones_like(mask))
        with self.assertRaises(sm.InvalidArgumentError):
            s.set_resample(5000)

    def test_impute_draws(self):
        grid = sm.Schedule.karras(1.0, 0.01, 6)
        s = sm.Sampler(self.net, grid, kind="edm-stochastic")
        x = np.array([[0.5, np.nan], [np.nan, -0.25], [1.0, 2.0], [np.nan, np.nan]] * 5,
                     dtype=np.float32)
        miss = np.isnan(x)
        self.assertEqual(s.impute_draws, 1)
        # One draw with the spread: the same values, NaN spread where missing.
        y = s.impute(x, rng=3)
        y1, sp1 = s.impute(x, rng=3, return_spread=True)
        self.assertTrue(np.array_equal(y1, y))
        self.assertTrue(np.all(np.isnan(sp1[miss])) and np.all(sp1[~miss] == 0))
        # Three draws: the average of three single draws from the same stream.
        r = sm.Rng(5)
        singles = [s.impute(x, rng=r) for _ in range(3)]
        one_nfe = s.nfe
        y3, sp3 = s.impute(x, rng=sm.Rng(5), draws=3, return_spread=True)
        self.assertEqual(s.nfe, 3 * one_nfe)
        self.assertEqual(s.impute_draws, 1)  # draws= applies to the call only
        stack = np.stack(singles).astype(np.float64)
        self.assertTrue(np.allclose(y3, stack.mean(axis=0), atol=1e-6))
        self.assertTrue(np.allclose(sp3, stack.std(axis=0, ddof=1), atol=1e-5))
        self.assertTrue(np.all(sp3[~miss] == 0) and np.all(sp3[miss] > 0))
        self.assertTrue(np.array_equal(y3[~miss], x[~miss]))
        s.set_impute_draws(2)
        self.assertEqual(s.impute_draws, 2)
        s.impute(x, rng=3)
        self.assertEqual(s.nfe, 2 * one_nfe)
        for bad in (0, 10001):
            with self.assertRaises(sm.InvalidArgumentError):
                s.set_impute_draws(bad)
            with self.assertRaises(sm.InvalidArgumentError):
                s.impute(x, rng=3, draws=bad)
        with self.assertRaises(sm.InvalidArgumentError):
            s.impute(x, rng=3, draws=-1)
        with self.assertRaises(TypeError):
            s.impute(x, rng=3, draws=1.5)
        self.assertEqual(s.impute_draws, 2)  # unchanged by the failures

    def test_kinds(self):
        grid = sm.Schedule.karras(1.0, 0.01, 6)
        self.assertEqual(len(grid.sigmas), 6)
        self.assertAlmostEqual(float(grid.sigmas[-1]), 0.01, places=6)
        # The final denoising step adds one evaluation, except to the kinds
        # that end at sigma = 0 by themselves.
        want_nfe = {"langevin": 6 * 20 + 1, "pc": 6 * 2 + 5 + 1, "ode-euler": 5 + 1,
                    "ode-heun": 2 * 5 + 1, "edm-heun": 2 * 6 - 1, "edm-stochastic": 2 * 6 - 1,
                    "dpmpp-2m": 6}
        for kind in sm.Sampler.KINDS:
            s = sm.Sampler(self.net, grid, kind=kind, corrector=(2, 0.2), final_denoise=True)
            self.assertEqual(s.kind, kind)
            x = s.run(200, rng=4)
            self.assertTrue(np.all(np.isfinite(x)))
            self.assertEqual(s.nfe, want_nfe[kind], kind)
        s = sm.Sampler(self.net, grid)
        with self.assertRaises(ValueError):
            s.kind = "euler"
        with self.assertRaises(sm.InvalidArgumentError):
            s.set_corrector(1, 0.0)
        # The ODE is deterministic given its start points.
        s.kind = "ode-heun"
        x0 = np.random.default_rng(0).normal(size=(50, 2)).astype(np.float32)
        np.testing.assert_array_equal(s.run_from(x0.copy(), rng=1), s.run_from(x0.copy(), rng=2))

    def test_run(self):
        s = sm.Sampler(self.net, self.sched, steps_per_scale=5)
        x = s.run(400, rng=3)
        self.assertEqual(x.shape, (400, 2))
        self.assertEqual(x.dtype, np.float32)
        self.assertTrue(np.all(np.isfinite(x)))
        self.assertEqual(s.nfe, 50)
        np.testing.assert_array_equal(x, sm.Sampler(self.net, self.sched,
                                                    steps_per_scale=5).run(400, rng=3))
        out = np.empty((400, 2), np.float32)
        self.assertIs(s.run(400, rng=3, out=out), out)
        np.testing.assert_array_equal(out, x)
        with self.assertRaises(sm.ShapeError):
            s.run(400, out=np.empty((400, 3), np.float32))

    def test_settings(self):
        s = sm.Sampler(self.net, self.sched)
        self.assertEqual(s.steps_per_scale, 20)
        self.assertAlmostEqual(s.step_ratio, 0.2)
        self.assertTrue(s.noise)
        self.assertFalse(s.final_denoise)
        s.step_ratio = 0.1
        self.assertAlmostEqual(s.step_ratio, 0.1)
        s.set_step_ncsn(2e-5)  # = 2e-5 / 0.01**2
        self.assertAlmostEqual(s.step_ratio, 0.2, places=5)
        s.steps_per_scale = 2
        s.final_denoise = True
        s.noise = False
        s.set_init_uniform(-2, 2)
        s.set_init_normal(0.5)
        s.run(10, rng=0)
        self.assertEqual(s.nfe, 10 * 2 + 1)
        with self.assertRaises(sm.InvalidArgumentError):
            s.steps_per_scale = 0
        self.assertEqual(s.steps_per_scale, 2)  # unchanged after the failed call
        with self.assertRaises(sm.InvalidArgumentError):
            s.set_init_uniform(1, -1)
        with self.assertRaises(sm.InvalidArgumentError):
            s.step_ratio = float("nan")

    def test_run_from(self):
        s = sm.Sampler(self.net, self.sched, steps_per_scale=2)
        x0 = self.data.to_numpy()[:50].copy()
        y = s.run_from(x0, rng=0)
        self.assertIsNot(y, x0)
        self.assertFalse(np.array_equal(y, x0))
        z = x0.copy()
        self.assertIs(s.run_from(z, rng=0, inplace=True), z)
        np.testing.assert_array_equal(z, y)
        with self.assertRaises(sm.ShapeError):
            s.run_from(np.zeros((5, 3)), rng=0)
        with self.assertRaises(sm.NonFiniteError):
            s.run_from(np.full((5, 2), np.nan), rng=0)

    def test_callback(self):
        s = sm.Sampler(self.net, self.sched, steps_per_scale=1, final_denoise=True)
        seen = []

        def cb(level, levels, sigma, x):
            self.assertFalse(x.flags.writeable)
            seen.append((level, levels, round(sigma, 4), x.shape))
        s.set_callback(cb)
        self.assertIs(s.callback, cb)
        s.run(20, rng=0)
        self.assertEqual([t[0] for t in seen], list(range(11)))
        self.assertEqual(seen[0], (0, 10, 1.0, (20, 2)))
        self.assertEqual(seen[-1][2], 0.01)
        s.set_callback(lambda level, *rest: level == 2)  # stop after level 2
        with self.assertRaises(sm.CancelledError) as cm:
            s.run(20, rng=0)
        self.assertEqual(cm.exception.samples.shape, (20, 2))

        def bad(level, *rest):
            raise RuntimeError("callback failed at level %d" % level)
        s.set_callback(bad)
        with self.assertRaisesRegex(RuntimeError, "level 0"):
            s.run(20, rng=0)
        s.set_callback(None)
        self.assertIsNone(s.callback)
        self.assertEqual(s.run(20, rng=0).shape, (20, 2))

    def test_diverged(self):
        s = sm.Sampler(self.net, self.sched, step_ratio=1e4)
        with self.assertRaises(sm.DivergedError) as cm:
            s.run(50, rng=0)
        msg = cm.exception.message
        self.assertIn("level", msg)
        self.assertIn("step ratio", msg)
        self.assertTrue(np.all(np.isfinite(cm.exception.samples)))


class LikelihoodTest(unittest.TestCase):
    @staticmethod
    def constant_score_net(c):
        # Every parameter 0 but the output bias: s(x, σ) = c everywhere.
        net = sm.Net(2, 16, 2, rng=0)
        net.params[:] = 0
        net.layer_params(net.depth)[1][:] = c
        return net

    @staticmethod
    def log_normal(x, std):
        x = np.asarray(x, np.float64)
        return (-0.5 * np.sum(x * x, axis=1) / std ** 2 -
                x.shape[1] * (math.log(std) + 0.5 * math.log(2 * math.pi)))

    def test_constant_score(self):
        c = np.array([0.7, -0.4])
        net = self.constant_score_net(c)
        np.testing.assert_allclose(net.forward(np.zeros((3, 2)), 0.5), [c] * 3, rtol=1e-6)
        grid = sm.Schedule.karras(3.0, 0.05, 40)
        s1, sl = float(grid[0]), float(grid[-1])
        x = np.random.default_rng(11).normal(size=(50, 2)).astype(np.float32)
        # dx/dσ = −σc moves x to x − c(σ₁² − σ_L²)/2 at σ₁; the divergence is 0.
        x1 = x - c * (s1 ** 2 - sl ** 2) / 2
        lp = sm.log_likelihood(net, grid, x, prior_std=2.5)
        self.assertEqual(lp.shape, (50,))
        self.assertEqual(lp.dtype, np.float64)
        np.testing.assert_allclose(lp, self.log_normal(x1, 2.5), rtol=0, atol=1e-4)
        # prior_std <= 0 is σ₁; Hutchinson probes estimate a zero trace exactly.
        np.testing.assert_allclose(sm.log_likelihood(net, grid, x), self.log_normal(x1, s1),
                                   rtol=0, atol=1e-4)
        np.testing.assert_allclose(sm.log_likelihood(net, grid, x, 2.5, probes=3, rng=1), lp,
                                   rtol=0, atol=1e-4)

    def test_matches_heun_reference(self):
        # A briefly trained network (its Jacobian's trace is far from 0),
        # against Heun's method written here with Net.jvp for the exact trace:
        # log p(x) = log N(x(σ₁); 0, prior_std²·I) − ∫ σ·tr J dσ (likelihood.h).
        data = sm.moons(500, noise=0.05, rng=0).standardize()
        net = sm.Net(2, 16, 2, rng=3)
        sm.Trainer(net, sm.Schedule.geometric(1.0, 0.05, 10), sm.Adam(net, lr=3e-3),
                   128).fit(data, 300, rng=1)
        grid = sm.Schedule.karras(1.0, 0.05, 30)
        x = data.to_numpy()[:20]
        std = math.sqrt(2.0)
        exact = sm.log_likelihood(net, grid, x, prior_std=std)
        basis = [np.tile(np.eye(2, dtype=np.float32)[j], (20, 1)) for j in range(2)]

        def drift(y, sigma):  # dx/dσ and d/dσ of ∫ σ·tr J dσ
            s = np.full(20, sigma, np.float32)
            jvs = [net.jvp(y.astype(np.float32), s, e) for e in basis]
            tr = sum(jv[:, j].astype(np.float64) for j, (_, jv) in enumerate(jvs))
            return -sigma * jvs[0][0].astype(np.float64), sigma * tr
        sig = grid.sigmas.astype(np.float64)[::-1]  # σ_L up to σ₁
        y, integral = x.astype(np.float64), np.zeros(20)
        for a, b in zip(sig[:-1], sig[1:]):
            f1, g1 = drift(y, a)
            f2, g2 = drift(y + (b - a) * f1, b)
            y = y + (b - a) / 2 * (f1 + f2)
            integral += (b - a) / 2 * (g1 + g2)
        self.assertGreater(np.abs(integral).min(), 0.3)
        np.testing.assert_allclose(exact, self.log_normal(y, std) - integral, rtol=0, atol=1e-4)
        # Hutchinson's estimate with many probes is close to the exact trace and
        # reproducible with the same seed.
        est = sm.log_likelihood(net, grid, x, prior_std=std, probes=512, rng=4)
        np.testing.assert_allclose(est, exact, rtol=0, atol=0.15)
        self.assertFalse(np.array_equal(est, exact))
        np.testing.assert_array_equal(
            est, sm.log_likelihood(net, grid, x, prior_std=std, probes=512, rng=sm.Rng(4)))

    def test_errors(self):
        net = sm.Net(2, 8, 1, rng=0)
        grid = sm.Schedule.karras(1.0, 0.05, 10)
        x = np.zeros((4, 2), np.float32)
        with self.assertRaises(sm.ShapeError):
            sm.log_likelihood(net, grid, np.zeros((4, 3)))
        with self.assertRaises(sm.InvalidArgumentError):
            sm.log_likelihood(net, grid, x, probes=5000, rng=0)
        with self.assertRaises(sm.InvalidArgumentError):
            sm.log_likelihood(net, sm.Schedule([1.0]), x)
        with self.assertRaises(sm.InvalidArgumentError):
            sm.log_likelihood(net, grid, x, prior_std=float("nan"))
        with self.assertRaises(sm.NonFiniteError):
            sm.log_likelihood(net, grid, np.full((4, 2), np.nan))
        with self.assertRaises(TypeError):
            sm.log_likelihood(net, grid.sigmas, x)


class MetricsTest(unittest.TestCase):
    def setUp(self):
        r = np.random.default_rng(0)
        self.a = r.normal(size=(300, 2)).astype(np.float32)
        self.b = r.normal(size=(300, 2)).astype(np.float32) + 10

    def test_identical_and_far(self):
        a, b = self.a, self.b
        self.assertEqual(sm.coverage(a, a, 0.15), 1.0)
        self.assertEqual(sm.precision(a, a), 1.0)
        self.assertEqual(sm.coverage(a, b), 0.0)
        cp = sm.coverage_precision(a, b, radius=0.15)
        self.assertEqual((cp.coverage, cp.precision, cp.nonfinite), (0.0, 0.0, 0))
        self.assertAlmostEqual(sm.energy_distance(a, a), 0.0, places=6)
        self.assertGreater(sm.energy_distance(a, b), 10)
        m = sm.mmd_rbf(a, a)
        self.assertAlmostEqual(m.mmd2, 0.0, places=6)
        self.assertGreater(m.bandwidth, 0)
        self.assertAlmostEqual(sm.mmd_rbf(a, b, bandwidth=1.0).bandwidth, 1.0)
        p = sm.prdc(a, a)
        self.assertEqual((p.precision, p.recall, p.coverage), (1.0, 1.0, 1.0))
        self.assertIsInstance(p, sm.PRDC)

    def test_nonfinite_and_dataset_input(self):
        g = self.a.copy()
        g[:30] = np.nan
        cp = sm.coverage_precision(self.a, g)
        self.assertEqual(cp.nonfinite, 30)
        self.assertAlmostEqual(cp.precision, 0.9)
        ds = sm.Dataset(self.a)
        self.assertEqual(sm.coverage_precision(ds, g), cp)
        self.assertEqual(sm.energy_distance(ds, self.b), sm.energy_distance(self.a, self.b))
        e1 = sm.energy_distance(self.a, self.b, max_points=100, rng=1)
        self.assertEqual(e1, sm.energy_distance(self.a, self.b, max_points=100, rng=1))
        with self.assertRaises(sm.ShapeError):
            sm.coverage(self.a, np.zeros((3, 3)))
        with self.assertRaises(sm.NonFiniteError):
            sm.coverage(g, self.a)  # non-finite real points are refused
        with self.assertRaises(sm.InvalidArgumentError):
            sm.prdc(self.a[:3], self.a)  # n_real must exceed k

    def test_frechet_distance(self):
        r = np.random.default_rng(1)
        x = r.normal(size=(500, 6)).astype(np.float32)
        y = (r.normal(size=(400, 6)) @ r.normal(size=(6, 6)) * 0.5 + 0.3).astype(np.float32)

        def reference(a, b):  # the formula, square roots by numpy's eigh
            a, b = a.astype(np.float64), b.astype(np.float64)
            c1, c2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
            w, v = np.linalg.eigh(c1)
            s1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
            inner = np.linalg.eigvalsh(s1 @ c2 @ s1)
            return (np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(c1) + np.trace(c2)
                    - 2 * np.sum(np.sqrt(np.clip(inner, 0, None))))

        fd = sm.frechet_distance(x, y)
        self.assertIsInstance(fd, float)
        self.assertAlmostEqual(fd, reference(x, y), delta=1e-9 * fd)
        self.assertAlmostEqual(sm.frechet_distance(y, x), fd, delta=1e-9 * fd)
        self.assertLess(sm.frechet_distance(x, x), 1e-9)
        v = np.array([1.5, -0.5, 0.25, 0, 2, -1], dtype=np.float32)
        self.assertAlmostEqual(sm.frechet_distance(x, x + v), float(v @ v), delta=1e-4)
        self.assertEqual(sm.frechet_distance(sm.Dataset(x), y), fd)
        g = np.vstack([y, np.full((5, 6), np.nan, dtype=np.float32)])
        self.assertEqual(sm.frechet_distance(x, g), fd)  # NaN rows left out
        with self.assertRaises(sm.InvalidArgumentError):
            sm.frechet_distance(x[:1], y)
        with self.assertRaises(sm.NonFiniteError):
            sm.frechet_distance(x, np.full((4, 6), np.nan))
        with self.assertRaises(sm.ShapeError):
            sm.frechet_distance(x, y[:, :3])

    def test_per_mode(self):
        ds = sm.moons(400, noise=0.05, rng=0)
        x, lab = ds.to_numpy(), ds.labels
        only0 = x[lab == 0]
        pm = sm.per_mode_coverage(ds, only0, radius=0.15)
        np.testing.assert_array_equal(pm, [1.0, pm[1]])
        self.assertLess(pm[1], 0.5)
        np.testing.assert_array_equal(sm.per_mode_coverage(x, only0, labels=lab), pm)
        with self.assertRaises(sm.InvalidArgumentError):
            sm.per_mode_coverage(x, only0)  # no labels


class HandleTest(unittest.TestCase):
    def test_context_managers_close(self):
        with sm.Rng(0) as r:
            self.assertFalse(r.closed)
            res = weakref.ref(r._res)
        self.assertTrue(r.closed)
        gc.collect()
        self.assertIsNone(res())  # freed at once
        with self.assertRaises(sm.StateError) as cm:
            r.uniform()
        self.assertIn("Rng is closed", str(cm.exception))
        r.close()  # idempotent
        self.assertIn("closed", repr(r))

    def test_all_handles(self):
        data = sm.moons(200, rng=0)
        with sm.Net(2, 8, 1, rng=0) as net, sm.Schedule.geometric() as sched, \
                sm.Adam(net) as opt, sm.Trainer(net, sched, opt, 32) as tr, \
                sm.Sampler(net, sched, steps_per_scale=1) as smp, data:
            tr.fit(data, 2, rng=0)
            smp.run(5, rng=0)
            self.assertIn("Net", repr(net))
        for h in (net, sched, opt, tr, smp, data):
            self.assertTrue(h.closed)
            with self.assertRaises(sm.StateError):
                h._resource
        with self.assertRaises(sm.StateError):
            sm.Trainer(net, sched, opt)  # a closed handle cannot be used

    def test_threads_release_gil(self):
        # Two trainers in two Python threads: ctypes releases the GIL during
        # the C calls; each handle is used by one thread only.
        data = sm.moons(500, noise=0.05, rng=0).standardize()
        sched = sm.Schedule.geometric()

        def run(seed, out):
            net = sm.Net(2, 16, 1, rng=seed)
            tr = sm.Trainer(net, sched, sm.Adam(net), 64)
            out[seed] = (tr.fit(data, 100, rng=seed), net.get_weights())
        par, seq = {}, {}
        ts = [threading.Thread(target=run, args=(s, par)) for s in (1, 2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        for s in (1, 2):
            run(s, seq)
            self.assertEqual(par[s][0], seq[s][0])
            np.testing.assert_array_equal(par[s][1], seq[s][1])


class LifetimeTest(unittest.TestCase):
    """close() while the C object is in use: by a call in progress (on
    another thread, or from a callback that C makes during the call) or by a
    trainer or sampler that borrows it. The C object must outlive every use
    (under AddressSanitizer: no report; in a plain build: no crash); a call
    that cannot go on raises StateError."""

    def setUp(self):
        self.data = sm.moons(500, noise=0.05, rng=0).standardize()
        self.sched = sm.Schedule.geometric(1.0, 0.01, 10)

    def make(self, seed=1):
        net = sm.Net(2, 16, 2, rng=seed)
        return net, sm.Trainer(net, self.sched, sm.Adam(net, lr=3e-3), batch_size=64)

    def assertFreed(self, ref):
        gc.collect()
        self.assertIsNone(ref(), "the C object is still alive")

    def test_set_ema_then_close_the_average(self):
        net, tr = self.make()
        ema = net.clone()
        start = ema.get_weights()
        tr.set_ema(ema, 0.5)
        res = weakref.ref(ema._res)
        ema.close()
        del ema
        gc.collect()
        self.assertIsNotNone(res())  # the trainer still averages into it
        self.assertTrue(math.isfinite(tr.fit(self.data, 5, rng=0)))
        # It was averaged into: the trainer's own reference shows it.
        moved = np.frombuffer(ctypes.string_at(
            sm._ffi.lib().sm_net_params(res().ptr), start.nbytes), np.float32)
        self.assertFalse(np.array_equal(moved, start))
        tr.set_ema(None)  # the trainer lets go of it
        self.assertFreed(res)
        self.assertTrue(math.isfinite(tr.fit(self.data, 2, rng=0)))

    def test_set_ema_keeps_only_the_current_average(self):
        net, tr = self.make()
        first, second = net.clone(), net.clone()
        tr.set_ema(first)
        r1 = weakref.ref(first._res)
        view = second.params  # a view over the second average
        before = view.copy()
        tr.set_ema(second, 0.5)
        r2 = weakref.ref(second._res)
        first.close()
        second.close()
        self.assertFreed(r1)  # replaced: let go
        tr.fit(self.data, 3, rng=0)
        self.assertFalse(np.array_equal(view, before))  # the second one is averaged into
        del view
        gc.collect()
        self.assertIsNotNone(r2())
        # Failed calls change nothing.
        with self.assertRaises(sm.ShapeError):
            tr.set_ema(sm.Net(2, 8, 1, rng=0))
        with self.assertRaises(sm.ShapeError):
            tr.set_ema(net)  # not the trained network itself
        with self.assertRaises(sm.StateError):
            tr.set_ema(first)  # closed
        with self.assertRaises(TypeError):
            tr.set_ema(self.sched)
        gc.collect()
        self.assertIsNotNone(r2())
        tr.fit(self.data, 2, rng=0)
        tres = weakref.ref(tr._res)
        tr.close()
        del tr
        self.assertFreed(tres)
        self.assertFreed(r2)  # freed with the trainer that borrowed it

    def test_edm_fit_sets_sigma_data_of_a_closed_average(self):
        net = sm.Net(2, 16, 1, rng=0, parametrization="edm")
        tr = sm.Trainer(net, sm.Schedule.karras(80.0, 0.002, 18), sm.Adam(net), 64)
        ema = net.clone()
        tr.set_ema(ema)
        res = weakref.ref(ema._res)
        del ema
        gc.collect()
        tr.fit(self.data, 2, rng=0)  # writes sigma_data into the average
        self.assertGreater(sm._ffi.lib().sm_net_sigma_data(res().ptr), 0.0)

    def test_fit_callback_closes_the_data(self):
        _, tr = self.make()
        data = self.data.clone()
        res = weakref.ref(data._res)
        calls = []

        def cb(step, total, loss):
            calls.append(step)
            data.close()
        self.assertTrue(math.isfinite(tr.fit(data, 6, rng=0, callback=cb)))
        self.assertEqual(calls, list(range(1, 7)))  # every step ran on the data
        self.assertEqual(tr.optim.steps, 6)
        self.assertTrue(data.closed)
        self.assertFreed(res)  # freed once fit returned
        with self.assertRaises(sm.StateError):
            tr.fit(data, 1, rng=0)

    def test_fit_callback_closes_the_trainer(self):
        net, tr = self.make()
        res = weakref.ref(tr._res)
        self.assertTrue(math.isfinite(tr.fit(self.data, 6, rng=0,
                                             callback=lambda *a: tr.close())))
        self.assertEqual(tr.optim.steps, 6)
        self.assertTrue(tr.closed)
        self.assertFreed(res)
        with self.assertRaises(sm.StateError):
            tr.fit(self.data, 1, rng=0)
        # Using the closed trainer inside the callback: that call cannot go on.
        _, tr2 = self.make()

        def use_after_close(step, total, loss):
            tr2.close()
            tr2.step(self.data.to_numpy()[:8], rng=0)
        with self.assertRaises(sm.StateError):
            tr2.fit(self.data, 6, rng=0, callback=use_after_close)
        self.assertEqual(tr2.optim.steps, 1)

    def test_fit_callback_closes_the_rng_and_the_borrowed_handles(self):
        net, tr = self.make()
        rng = sm.Rng(7)
        refs = [weakref.ref(h._res) for h in (rng, net, tr.optim)]
        handles = (rng, net, tr.optim, self.sched)

        def cb(step, total, loss):
            for h in handles:
                h.close()
        self.assertTrue(math.isfinite(tr.fit(self.data, 5, rng=rng, callback=cb)))
        self.assertFreed(refs[0])  # the rng: only fit held it
        gc.collect()
        self.assertIsNotNone(refs[1]())  # still borrowed by the trainer
        self.assertIsNotNone(refs[2]())
        self.assertTrue(math.isfinite(tr.fit(self.data, 2, rng=1)))
        with self.assertRaises(sm.StateError):
            tr.fit(self.data, 2, rng=rng)
        tr.close()
        del tr
        self.assertFreed(refs[1])
        self.assertFreed(refs[2])

    def test_sampler_callback_closes_its_sampler(self):
        net, _ = self.make()
        s = sm.Sampler(net, self.sched, steps_per_scale=2)
        res = weakref.ref(s._res)
        seen = []

        def cb(level, levels, sigma, x):
            seen.append(level)
            s.close()
        s.set_callback(cb)
        x = s.run(30, rng=0)
        self.assertEqual(x.shape, (30, 2))
        self.assertTrue(np.all(np.isfinite(x)))
        self.assertEqual(seen, list(range(10)))  # the run went on to the end
        self.assertTrue(s.closed)
        self.assertFreed(res)
        with self.assertRaises(sm.StateError):
            s.run(5, rng=0)
        # The same sampler again, without closing: the same points.
        s2 = sm.Sampler(net, self.sched, steps_per_scale=2)
        np.testing.assert_array_equal(s2.run(30, rng=0), x)

    def test_sampler_callback_closes_everything_it_uses(self):
        net = small_net()
        sched = sm.Schedule.geometric(1.0, 0.01, 6)
        s = sm.Sampler(net, sched, steps_per_scale=2, final_denoise=True)
        rng = sm.Rng(3)
        handles = (s, net, sched, rng)
        refs = [weakref.ref(h._res) for h in handles]

        def cb(level, levels, sigma, x):
            for h in handles:
                h.close()
            gc.collect()
        s.set_callback(cb)
        del cb  # only the sampler holds the callback now
        x = s.run(20, rng=rng)
        self.assertTrue(np.all(np.isfinite(x)))
        del s
        for r in refs:
            self.assertFreed(r)

    def test_sampler_callback_cannot_change_its_sampler(self):
        # The library refuses to change or rerun a sampler from its own
        # callback (StateError); the run under way goes on unchanged.
        net, _ = self.make()
        s = sm.Sampler(net, self.sched, steps_per_scale=1)
        seen = []

        def second(level, *rest):
            seen.append(("second", level))

        def first(level, *rest):
            seen.append(("first", level))
            for change in (lambda: s.set_callback(second), lambda: s.set_callback(None),
                           lambda: s.run(3, rng=1)):
                with self.assertRaises(sm.StateError):
                    change()
            gc.collect()
        s.set_callback(first)
        x = s.run(10, rng=0)
        self.assertEqual([name for name, _ in seen], ["first"] * len(self.sched))
        self.assertIs(s.callback, first)
        s.set_callback(None)
        np.testing.assert_array_equal(x, s.run(10, rng=0))  # the refusals changed nothing
        s.set_callback(second)
        s.run(10, rng=0)
        self.assertEqual(seen[-1][0], "second")

    def test_reentrant_calls_from_callbacks(self):
        net, tr = self.make()
        big = np.random.default_rng(0).normal(size=(1000, 2)).astype(np.float32)
        s = sm.Sampler(net, self.sched, steps_per_scale=2, final_denoise=True)
        depth = []

        def level_cb(level, levels, sigma, x):
            net.forward(big, 0.5)  # grows the network's workspace mid-run
            if level in (3, 6):
                net.threads = 1 + level % 2  # a new thread pool mid-run
            if not depth and level % 3 == 0:
                depth.append(level)
                with self.assertRaises(sm.StateError):
                    s.run(5, rng=level)  # the same sampler, nested: refused
                depth.pop()
        s.set_callback(level_cb)
        for kind in sm.Sampler.KINDS:
            s.kind = kind
            self.assertTrue(np.all(np.isfinite(s.run(20, rng=0))), kind)

        def fit_cb(step, total, loss):
            net.forward(big, 0.5)
            net.threads = 1 + step % 2
            if step == 1:
                with self.assertRaises(sm.StateError):
                    tr.fit(self.data, 2, rng=step)  # the same trainer, nested: refused
            e = net.clone()
            with self.assertRaises(sm.StateError):
                tr.set_ema(e if step % 2 else None)  # changing the trainer: refused
            e.close()
            gc.collect()
        for objective in ("dsm", "ssm"):
            tr.objective = objective
            self.assertTrue(math.isfinite(tr.fit(self.data, 5, rng=0, callback=fit_cb)))

    def test_sampler_callback_exception_and_nested_failure(self):
        net, _ = self.make()
        s = sm.Sampler(net, self.sched, steps_per_scale=1)

        def cb(level, *rest):
            if level == 1:
                s.run(-1)  # fails inside the callback
        s.set_callback(cb)
        with self.assertRaises(sm.InvalidArgumentError):
            s.run(5, rng=0)
        s.set_callback(lambda *a: None)
        self.assertEqual(s.run(5, rng=0).shape, (5, 2))  # the failure did not stick

    def test_ctrl_c_stops_a_sampler_with_a_callback(self):
        net, _ = self.make()
        s = sm.Sampler(net, self.sched, steps_per_scale=2000)
        levels = []
        s.set_callback(lambda level, *rest: levels.append(level))
        timer = threading.Timer(0.2, lambda: os.kill(os.getpid(), signal.SIGINT))
        timer.start()
        try:
            with self.assertRaises(KeyboardInterrupt):
                s.run(500, rng=0)
        finally:
            timer.cancel()
        self.assertLess(len(levels), 10)
        self.assertIs(signal.getsignal(signal.SIGINT), signal.default_int_handler)

    def test_close_on_another_thread_during_forward(self):
        # One thread runs a long forward pass (the GIL is released in C);
        # the other closes the network once the first is inside the call.
        # The C network must stay alive until the call returns.
        net = sm.Net(2, 256, 3, rng=0)
        x = np.random.default_rng(1).normal(size=(20000, 2)).astype(np.float32)
        expected = net.forward(x, 0.3)
        hits = 0
        for attempt in range(5):
            net = sm.Net(2, 256, 3, rng=0)
            res = weakref.ref(net._res)
            barrier = threading.Barrier(2)
            result = {}

            def work():
                barrier.wait()
                try:
                    result["out"] = net.forward(x, 0.3)
                except sm.StateError as e:  # closed before the call began
                    result["err"] = e
                result["closed_before_return"] = net.closed
            t = threading.Thread(target=work)
            t.start()
            barrier.wait()
            time.sleep(0.05)
            net.close()
            gc.collect()
            t.join()
            self.assertFreed(res)
            if "out" in result:
                np.testing.assert_array_equal(result["out"], expected)
                if result["closed_before_return"]:
                    hits += 1  # closed while C was running
                    break
            else:
                self.assertIn("closed", str(result["err"]))
        self.assertGreater(hits, 0, "never closed during the call")

    def test_close_on_another_thread_during_fit(self):
        net, tr = self.make()
        rng = sm.Rng(0)
        data = self.data.clone()
        started = threading.Event()
        box = {}

        def cb(step, total, loss):
            if step == 1:
                started.set()
            return None

        def work():
            try:
                box["loss"] = tr.fit(data, 400, rng=rng, callback=cb)
            except BaseException as e:  # noqa: B902
                box["err"] = e
        t = threading.Thread(target=work)
        t.start()
        started.wait(30)
        refs = [weakref.ref(h._res) for h in (tr, data, rng, net)]
        for h in (tr, data, rng, net):
            h.close()
        gc.collect()
        t.join()
        self.assertNotIn("err", box)
        self.assertTrue(math.isfinite(box["loss"]))
        for r in refs:
            self.assertFreed(r)

    def test_views_and_points_outlive_close(self):
        ds = sm.moons(300, rng=0)
        ref = weakref.ref(ds._res)
        pts = ds.to_numpy()
        # A Dataset given to a metric: its points are used without a copy.
        self.assertAlmostEqual(sm.coverage(ds, pts, 0.01), 1.0)
        ds.close()
        self.assertFreed(ref)
        with self.assertRaises(sm.StateError):
            sm.coverage(ds, pts)
        net = small_net()
        grads = net.grads
        net.close()
        grads[:] = 1.0  # still the network's own memory, alive
        self.assertEqual(float(grads.sum()), grads.size)

    def test_handles_of_the_wrong_kind_are_refused(self):
        # A handle reaches C as a bare pointer: one of another kind, or an
        # int, must be refused before the call, not read as a network.
        net = small_net()
        for bad in (sm.Rng(0), self.sched, 12345, None):
            with self.assertRaises(TypeError):
                net.copy_params_from(bad)
            with self.assertRaises(TypeError):
                net.ema_update(bad, 0.5)
            with self.assertRaises(TypeError):
                sm.Adam(net).step_net(bad)
        _, tr = self.make()
        for bad in (sm.Rng(0), 12345):
            with self.assertRaises(TypeError):
                tr.set_ema(bad)
            with self.assertRaises(TypeError):
                tr.fit(self.data, 1, rng=self.sched)

    def test_no_bare_pointer_outside_the_call_helper(self):
        # Handles reach C only through _base.call, which holds their
        # resources for the length of the call: no module takes a raw C
        # pointer out of a handle.
        pkg = os.path.dirname(sm.__file__)
        for name in sorted(os.listdir(pkg)):
            if not name.endswith(".py") or name == "_base.py":
                continue
            with open(os.path.join(pkg, name), encoding="utf-8") as f:
                src = f.read()
            for bad in ("._ptr", "res.ptr", "_resource.ptr", "._res.ptr"):
                self.assertNotIn(bad, src, "%s uses %s" % (name, bad))

    @unittest.skipUnless("address" in os.environ.get("SCOREMATCH_TEST_SANITIZE", ""),
                         "not an AddressSanitizer build")
    def test_leak_sanitizer_sees_the_library(self):
        # The suppressions hide what CPython and NumPy never free, not the
        # library's own leaks: a C object nobody frees is reported.
        import subprocess
        code = ("import ctypes, scorematch as sm; from scorematch import _ffi; "
                "p = ctypes.c_void_p(); _ffi.lib().sm_rng_new(ctypes.byref(p), 1); "
                "p.value = None; sm.Rng(2).close()")
        env = dict(os.environ, PYTHONPATH=os.path.join(HERE, ".."))
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=120, env=env)
        self.assertNotEqual(proc.returncode, 0, proc.stderr[-2000:])
        self.assertIn("LeakSanitizer", proc.stderr)
        self.assertIn("sm_rng_new", proc.stderr)
        clean = subprocess.run([sys.executable, "-c", "import scorematch as sm; "
                                "sm.Rng(2).close(); sm.moons(100, rng=0)"],
                               capture_output=True, text=True, timeout=120, env=env)
        self.assertEqual(clean.returncode, 0, clean.stderr[-4000:])


@unittest.skipUnless(sm.model.available(), "library without model files (model.h)")

class RealDataTest(unittest.TestCase):
    """EDM parametrization, normalization, sigma sampling and the samplers
    over the denoiser, through the bindings."""

    def test_edm_net_and_denoiser(self):
        net = sm.Net(3, 16, 2, rng=1, parametrization="edm", sigma_data=0.7)
        self.assertEqual(net.parametrization, "edm")
        self.assertAlmostEqual(net.sigma_data, 0.7, places=6)
        x = np.random.default_rng(0).normal(size=(20, 3)).astype(np.float32)
        sig = np.exp(np.linspace(-3, 3, 20)).astype(np.float32)
        s = net.forward(x, sig)
        d = net.denoise(x, sig)
        np.testing.assert_allclose(d, x + sig[:, None] ** 2 * s, rtol=1e-3, atol=1e-4)
        with self.assertRaises(ValueError):
            sm.Net(2, parametrization="vp")
        fresh = sm.Net(2, 8, 1, rng=0, parametrization="edm")
        self.assertEqual(fresh.sigma_data, 0.0)
        with self.assertRaises(sm.StateError):
            fresh.forward(np.zeros((1, 2)), 1.0)
        with self.assertRaises(sm.InvalidArgumentError):
            fresh.sigma_data = -1.0
        self.assertEqual(sm.Net(2, 8, 1, rng=0).parametrization, "lab")

    def test_fit_measures_sigma_data_and_samples(self):
        data = sm.moons(500, rng=0).standardize()
        net = sm.Net(2, 32, 2, rng=0, parametrization="edm")
        grid = sm.Schedule.karras(80.0, 0.002, 18)
        tr = sm.Trainer(net, grid, sm.Adam(net, lr=1e-3), 64)
        self.assertEqual(tr.sigma_sampling, "lognormal")
        tr.set_lr_schedule(10, 50, 0.1)
        tr.fit(data, 50, rng=0)
        self.assertAlmostEqual(net.sigma_data, data.sigma_data, places=5)
        tr.set_sigma_sampling("ladder")
        self.assertEqual(tr.sigma_sampling, "ladder")
        with self.assertRaises(ValueError):
            tr.set_sigma_sampling("uniform")
        with self.assertRaises(sm.InvalidArgumentError):
            tr.set_lr_schedule(10, 5)
        for kind, nfe in (("edm-heun", 35), ("edm-stochastic", 35), ("dpmpp-2m", 18)):
            smp = sm.Sampler(net, grid, kind=kind)
            if kind == "edm-stochastic":
                smp.set_churn(10.0, 0.05, 50.0, 1.0)
            x = smp.run(200, rng=1)
            self.assertEqual(smp.nfe, nfe)
            self.assertTrue(np.isfinite(x).all())
            # Per-point noise: the first points do not depend on n.
            y = smp.run(20, rng=1)
            np.testing.assert_allclose(y, x[:20], rtol=1e-4, atol=1e-5)
        with self.assertRaises(sm.InvalidArgumentError):
            sm.Sampler(net, grid, kind="edm-stochastic").set_churn(-1.0)

    def test_normalization_travels_with_the_model(self):
        net = sm.Net(2, 8, 1, rng=0, parametrization="edm", sigma_data=0.5)
        self.assertIsNone(net.normalization)
        net.set_normalization([1.0, -2.0], [0.5, 4.0])
        shift, scale = net.normalization
        np.testing.assert_array_equal(shift, [1.0, -2.0])
        x = np.array([[2.0, 1.0]], np.float32)
        np.testing.assert_allclose(net.to_data_units(x), [[2.0, 2.0]])
        np.testing.assert_allclose(net.from_data_units(net.to_data_units(x)), x)
        with self.assertRaises(sm.InvalidArgumentError):
            net.set_normalization([0.0, 0.0], [1.0, 0.0])
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "m.smm")
            sm.model.save(p, net, sm.Schedule.karras(80.0, 0.002, 5))
            m = sm.model.load(p)
        self.assertEqual(m.net.parametrization, "edm")
        self.assertAlmostEqual(m.net.sigma_data, 0.5)
        np.testing.assert_array_equal(m.net.normalization[1], [0.5, 4.0])
        net.set_normalization(None, None)
        self.assertIsNone(net.normalization)
        ds = sm.Dataset(np.array([[0.0, 1.0], [2.0, 1.0], [4.0, 1.0]]))
        self.assertAlmostEqual(ds.sigma_data, math.sqrt((8.0 / 3.0 + 0.0) / 2.0), places=6)

class ConditionalTest(unittest.TestCase):
    """Networks with a context, condition dropout and guidance."""

    def test_net_context_passes(self):
        net = sm.Net(2, 16, 2, rng=3, parametrization="edm", sigma_data=1.0, context_dim=3)
        self.assertEqual(net.context_dim, 3)
        self.assertEqual(sm.Net(2, 8, 1, rng=0).context_dim, 0)
        rng = np.random.default_rng(1)
        x = rng.normal(size=(10, 2)).astype(np.float32)
        c = sm.one_hot(np.arange(10) % 3, 3)
        self.assertEqual(c.shape, (10, 3))
        np.testing.assert_array_equal(c.sum(axis=1), 1.0)
        a = net.forward(x, 0.5, context=c)
        u = net.forward(x, 0.5)
        self.assertFalse(np.array_equal(a, u))
        # One row for all points equals the row repeated.
        np.testing.assert_array_equal(net.forward(x, 0.5, context=c[0]),
                                      net.forward(x, 0.5, context=np.tile(c[0], (10, 1))))
        d = net.denoise(x, 0.5, context=c)
        np.testing.assert_allclose(d, x + 0.25 * a, rtol=1e-3, atol=1e-4)
        out, jv = net.jvp(x, 0.5, np.ones_like(x), context=c)
        np.testing.assert_allclose(out, a, rtol=1e-5, atol=1e-6)
        with self.assertRaises(sm.ShapeError):
            net.forward(x, 0.5, context=np.zeros((10, 2)))
        with self.assertRaises(sm.NonFiniteError):
            bad = c.copy()
            bad[4, 1] = np.nan
            net.forward(x, 0.5, context=bad)
        with self.assertRaises(sm.InvalidArgumentError):
            sm.one_hot([0, 3], 3)
        # The model file keeps the context width.
        m = sm.model.load_bytes(sm.model.save_bytes(net, sm.Schedule.karras(10.0, 0.01, 4)))
        self.assertEqual(m.net.context_dim, 3)
        np.testing.assert_array_equal(m.net.forward(x, 0.5, context=c), a)

    def test_context_normalization(self):
        net = sm.Net(2, 16, 2, rng=3, parametrization="edm", sigma_data=1.0, context_dim=3)
        plain = net.clone()
        self.assertIsNone(net.context_normalization)
        rng = np.random.default_rng(2)
        x = rng.normal(size=(6, 2)).astype(np.float32)
        raw = (rng.normal(size=(6, 3)) * 7.0 + 20.0).astype(np.float32)
        shift = np.array([20.0, 19.0, -1.0], np.float32)
        scale = np.array([7.0, 0.25, 3.0], np.float32)
        before = net.forward(x, 0.5, context=raw)
        net.set_context_normalization(shift, scale)
        got = net.context_normalization
        np.testing.assert_array_equal(got[0], shift)
        np.testing.assert_array_equal(got[1], scale)
        # Raw contexts through the normalization = normalized ones without it.
        normed = (raw - shift) / scale
        a = net.forward(x, 0.5, context=raw)
        self.assertFalse(np.array_equal(a, before))
        np.testing.assert_array_equal(a, plain.forward(x, 0.5, context=normed))
        # The null context is not normalized.
        np.testing.assert_array_equal(net.forward(x, 0.5), plain.forward(x, 0.5))
        # Bad input changes nothing.
        with self.assertRaises(sm.ShapeError):
            net.set_context_normalization([0.0, 0.0], [1.0, 1.0])
        with self.assertRaises(sm.InvalidArgumentError):
            net.set_context_normalization([0.0, 0.0, 0.0], [1.0, 0.0, 1.0])
        with self.assertRaises(sm.NonFiniteError):
            net.set_context_normalization([0.0, np.nan, 0.0], [1.0, 1.0, 1.0])
        np.testing.assert_array_equal(net.context_normalization[1], scale)
        with self.assertRaises(sm.ShapeError):
            sm.Net(2, 8, 1, rng=0).set_context_normalization([0.0], [1.0])
        # It travels with the model file.
        m = sm.model.load_bytes(sm.model.save_bytes(net, sm.Schedule.karras(10.0, 0.01, 4)))
        np.testing.assert_array_equal(m.net.context_normalization[0], shift)
        np.testing.assert_array_equal(m.net.forward(x, 0.5, context=raw), a)
        self.assertIsNotNone(net.clone().context_normalization)
        net.set_context_normalization(None, None)
        self.assertIsNone(net.context_normalization)
        np.testing.assert_array_equal(net.forward(x, 0.5, context=raw), before)

    def test_dataset_context(self):
        ds = sm.Dataset(np.zeros((4, 2)), context=np.arange(8).reshape(4, 2))
        self.assertEqual(ds.context_dim, 2)
        np.testing.assert_array_equal(ds.context, np.arange(8).reshape(4, 2))
        np.testing.assert_array_equal(ds.clone().context, ds.context)
        with self.assertRaises(sm.ShapeError):
            ds.set_context(np.zeros((3, 2)))
        ds.set_context(None)
        self.assertIsNone(ds.context)
        self.assertEqual(ds.context_dim, 0)

    def test_train_and_guided_sampling(self):
        data = sm.moons(1000, noise=0.05, rng=0).standardize()
        net = sm.Net(2, 64, 2, rng=0, parametrization="edm", context_dim=2)
        tr = sm.Trainer(net, sm.Schedule.geometric(1.0, 0.01, 4), sm.Adam(net, lr=3e-3), 256)
        self.assertAlmostEqual(tr.context_dropout, 0.1)
        tr.context_dropout = 0.2
        self.assertAlmostEqual(tr.context_dropout, 0.2)
        with self.assertRaises(sm.InvalidArgumentError):
            tr.context_dropout = float("nan")
        tr.fit(data, 400, rng=1)  # one-hot contexts from the labels
        grid = sm.Schedule.karras(10.0, 0.002, 20)
        smp = sm.Sampler(net, grid, kind="dpmpp-2m")
        smp.set_guidance(1.0)
        with self.assertRaises(sm.StateError):  # guidance without a context
            smp.run(10, rng=0)
        smp.set_guidance(0.0)
        smp.set_context([1.0, 0.0])  # label 0: the upper moon
        x0 = smp.run(500, rng=2)
        smp.set_guidance(0.0)
        np.testing.assert_array_equal(smp.run(500, rng=2), x0)
        self.assertEqual(smp.nfe, 20)
        smp.set_guidance(1.0)
        x1 = smp.run(500, rng=2)
        self.assertEqual(smp.nfe, 40)
        with self.assertRaises(sm.InvalidArgumentError):
            smp.set_guidance(float("nan"))
        # The samples sit on the upper moon: compare with both moons' points.
        real = data.to_numpy()
        labels = data.labels
        for x in (x0, x1):
            d0 = np.sqrt(((x[:, None, :] - real[None, labels == 0, :]) ** 2).sum(-1)).min(1)
            d1 = np.sqrt(((x[:, None, :] - real[None, labels == 1, :]) ** 2).sum(-1)).min(1)
            self.assertGreater(np.mean(d0 < d1), 0.8)
        # Per-row contexts: half of one run asks for each moon.
        smp.set_guidance(0.0)
        smp.set_context(sm.one_hot(np.repeat([0, 1], 250), 2))
        both = smp.run(500, rng=2)
        np.testing.assert_allclose(both[:250], x0[:250], rtol=1e-5, atol=1e-5)
        with self.assertRaises(sm.ShapeError):
            smp.run(10, rng=0)
        with self.assertRaises(sm.ShapeError):
            smp.set_context(np.zeros((3, 5)))


class ModelTest(unittest.TestCase):
    def test_round_trip(self):
        net = sm.Net(2, 8, 1, rng=0)
        sched = sm.Schedule.geometric(1.0, 0.05, 5)
        opt = sm.Adam(net, lr=2e-3)
        tr = sm.Trainer(net, sched, opt, 32)
        tr.fit(sm.moons(100, rng=0), 5, rng=0)
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "model.smm")
            sm.model.save(p, net, sched, opt)
            m = sm.model.load(p)
        np.testing.assert_array_equal(m.net.params, net.params)
        np.testing.assert_array_equal(m.schedule.sigmas, sched.sigmas)
        self.assertEqual(m.optim.steps, 5)
        self.assertAlmostEqual(m.optim.lr, 2e-3)
        blob = sm.model.save_bytes(net, sched)
        m2 = sm.model.load_bytes(blob)
        self.assertIsNone(m2.optim)
        np.testing.assert_array_equal(m2.net.params, net.params)
        bad = bytearray(blob)
        bad[60] ^= 1
        with self.assertRaises(sm.FormatError):
            sm.model.load_bytes(bytes(bad))
        with self.assertRaises(sm.FormatError):
            sm.model.load_bytes(blob[:-1])
        with self.assertRaises(sm.FileError):
            sm.model.load("/nonexistent/model.smm")

    def test_resume_bit_for_bit(self):
        data = sm.moons(200, noise=0.05, rng=0)
        sched = sm.Schedule.geometric()
        net = sm.Net(2, 16, 2, rng=1)
        opt = sm.Adam(net, lr=3e-3)
        sm.Trainer(net, sched, opt, 32).fit(data, 10, rng=2)
        m = sm.model.load_bytes(sm.model.save_bytes(net, sched, opt))
        sm.Trainer(net, sched, opt, 32).fit(data, 10, rng=3)
        sm.Trainer(m.net, m.schedule, m.optim, 32).fit(data, 10, rng=3)
        np.testing.assert_array_equal(m.net.params, net.params)
        self.assertEqual(m.optim.steps, 20)
        with self.assertRaises(sm.ShapeError):
            sm.model.save_bytes(net, sched, sm.Adam(5))


if __name__ == "__main__":
    unittest.main(verbosity=2)

#!/usr/bin/python3
"""Tests of scorematch.ScoreModel, the estimator (plain unittest).

Run from a build tree:

    SCOREMATCH_LIBRARY=build/lib/libscorematch.so.0 PYTHONPATH=bindings/python \\
        /usr/bin/python3 bindings/python/tests/test_estimator.py

Exits with 77 (meson's "skipped") when NumPy is not importable.
"""

import math
import os
import pickle
import sys
import unittest

try:
    import numpy as np
except ImportError:
    print("test_estimator.py: NumPy is not importable with %s: skipped (install "
          "python3-numpy)" % sys.executable)
    sys.exit(77)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import scorematch as sm  # noqa: E402

# Small and quick: these check the plumbing (units, seeds, pickling, errors),
# not the quality of a full-size model.
SMALL = dict(width=32, depth=2, steps=300, batch_size=128)


def shifted_moons(n, seed, scale=3.0, shift=5.0):
    """Two moons far from the origin and from unit scale, so that a model that
    forgot its normalization is caught."""
    return sm.moons(n, noise=0.05, rng=seed).to_numpy() * scale + shift


class ScoreModelTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.X = shifted_moons(1000, 0)
        cls.model = sm.ScoreModel(random_state=0, **SMALL).fit(cls.X)

    def test_impute(self):
        X = self.X[:50].copy()
        X[::2, 1] = np.nan
        Y = self.model.impute(X, random_state=1)
        self.assertEqual(Y.shape, X.shape)
        self.assertTrue(np.all(np.isfinite(Y)))
        self.assertTrue(np.array_equal(Y[:, 0], X[:, 0].astype(np.float32)))
        # Filled in the data's units: near the moons (shifted to 5), not near 0.
        self.assertTrue(np.all(np.abs(Y[::2, 1] - 5.0) < 6.0))
        self.assertTrue(np.array_equal(Y, self.model.impute(X, random_state=1)))
        # Several draws: the observed entries kept, a spread in the data's
        # units (the data are scaled by 3: a unit-scale spread would be
        # three times smaller than the draws' spread computed here).
        Y4, sp = self.model.impute(X, random_state=1, draws=4, return_spread=True)
        self.assertTrue(np.array_equal(Y4[:, 0], X[:, 0].astype(np.float32)))
        self.assertTrue(np.all(np.isfinite(Y4)))
        self.assertTrue(np.all(sp[:, 0] == 0) and np.all(sp[1::2, 1] == 0))
        self.assertTrue(np.all(sp[::2, 1] > 0))
        draws = np.stack([self.model.impute(X, random_state=s)[::2, 1] for s in range(8)])
        ratio = float(np.mean(sp[::2, 1]) / np.mean(np.std(draws, axis=0, ddof=1)))
        self.assertTrue(0.4 < ratio < 2.5, ratio)
        with self.assertRaises(sm.InvalidArgumentError):
            self.model.impute(X, draws=0)

    def test_params_round_trip(self):
        m = sm.ScoreModel(width=64, ema=0.99)
        p = m.get_params()
        self.assertEqual(p["width"], 64)
        self.assertEqual(p["ema"], 0.99)
        self.assertEqual(p["parametrization"], "edm")
        self.assertEqual(sm.ScoreModel(**p).get_params(), p)
        self.assertIs(m.set_params(depth=4, lr=2e-3), m)
        self.assertEqual((m.depth, m.lr), (4, 2e-3))
        with self.assertRaises(ValueError):
            m.set_params(widht=3)
        self.assertIn("width=64", repr(m))
        with self.assertRaises(TypeError):
            sm.ScoreModel(64)  # keyword-only, as scikit-learn expects

    def test_defaults_are_the_preconditioned_path(self):
        m = self.model
        self.assertEqual(m.net_.parametrization, "edm")
        self.assertEqual(len(m.schedule_), 18)
        self.assertAlmostEqual(float(m.schedule_.sigmas[0]), 80.0, places=3)
        self.assertEqual(m.n_features_in_, 2)
        self.assertTrue(math.isfinite(m.loss_))
        self.assertIsNotNone(m.net_.normalization)

    def test_samples_in_data_units_and_repeatable(self):
        S = self.model.sample(800, random_state=5)
        self.assertEqual(S.shape, (800, 2))
        self.assertTrue(np.all(np.isfinite(S)))
        # In the data's units: the moons sit around (6.5, 5.75) with spreads
        # (2.6, 1.5), far from the standardized (0, 1).
        np.testing.assert_allclose(S.mean(0), self.X.mean(0), atol=0.5)
        np.testing.assert_allclose(S.std(0), self.X.std(0), rtol=0.3)
        np.testing.assert_array_equal(S, self.model.sample(800, random_state=5))
        self.assertFalse(np.array_equal(S, self.model.sample(800, random_state=6)))

    def test_same_seed_same_model(self):
        again = sm.ScoreModel(random_state=0, **SMALL).fit(self.X)
        np.testing.assert_array_equal(again.net_.params, self.model.net_.params)

    def test_pickle_round_trip(self):
        blob = pickle.dumps(self.model)
        m = pickle.loads(blob)
        self.assertEqual(m.get_params(), self.model.get_params())
        np.testing.assert_array_equal(m.net_.params, self.model.net_.params)
        np.testing.assert_array_equal(m.sample(300, random_state=1),
                                      self.model.sample(300, random_state=1))
        self.assertEqual(m.loss_, self.model.loss_)
        # An unfitted model pickles too, and stays unfitted.
        u = pickle.loads(pickle.dumps(sm.ScoreModel(width=8)))
        self.assertEqual(u.width, 8)
        with self.assertRaises(AttributeError):
            u.sample(1)

    def test_score_samples(self):
        near = shifted_moons(200, 1)
        far = near + 20.0
        ll_near = self.model.score_samples(near)
        ll_far = self.model.score_samples(far)
        self.assertEqual(ll_near.shape, (200,))
        self.assertTrue(np.all(np.isfinite(ll_near)))
        self.assertGreater(ll_near.mean(), ll_far.mean() + 10.0)
        self.assertAlmostEqual(self.model.score(near), float(ll_near.mean()), places=6)

    def test_score_samples_change_of_units(self):
        # The same data in units twice as large: standardized, the network
        # sees the same points, and a density in x has the Jacobian
        # 1/2 per dimension, so log p drops by 2·ln 2.
        X2 = self.X * 2.0
        m2 = sm.ScoreModel(random_state=0, **SMALL).fit(X2)
        pts = shifted_moons(100, 2)
        diff = self.model.score_samples(pts) - m2.score_samples(pts * 2.0)
        np.testing.assert_allclose(diff, 2.0 * math.log(2.0), atol=0.05)

    def test_lab_parametrization(self):
        m = sm.ScoreModel(parametrization="lab", random_state=1, **SMALL).fit(self.X)
        self.assertEqual(m.net_.parametrization, "lab")
        self.assertEqual(len(m.schedule_), 10)
        S = m.sample(200, random_state=2)
        self.assertTrue(np.all(np.isfinite(S)))
        np.testing.assert_allclose(S.mean(0), self.X.mean(0), atol=1.0)

    def test_ema_and_schedule_options(self):
        m = sm.ScoreModel(random_state=2, ema=0.9, lr_decay=True, warmup=10, sigma_max=10.0,
                          levels=12, sampler="dpmpp-2m", **SMALL).fit(self.X)
        self.assertEqual(len(m.schedule_), 12)
        self.assertIsNotNone(m.net_.normalization)
        S = m.sample(300, random_state=0)
        np.testing.assert_allclose(S.mean(0), self.X.mean(0), atol=0.5)

    def test_bad_input(self):
        bad = self.X.copy()
        bad[3, 1] = np.nan
        with self.assertRaises(sm.NonFiniteError):
            sm.ScoreModel(**SMALL).fit(bad)
        with self.assertRaises(ValueError):
            sm.ScoreModel(**SMALL).fit(self.X[:1])
        with self.assertRaises(ValueError):
            sm.ScoreModel(parametrization="vp", **SMALL).fit(self.X)
        with self.assertRaises(AttributeError):
            sm.ScoreModel().sample(3)
        with self.assertRaises(sm.ShapeError):
            self.model.score_samples(np.zeros((4, 3), np.float32))
        with self.assertRaises(ValueError):  # before training, not after it
            sm.ScoreModel(sampler="nope", steps=10 ** 9).fit(self.X)


if __name__ == "__main__":
    unittest.main(verbosity=2)

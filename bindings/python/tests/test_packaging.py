#!/usr/bin/env python3
"""Tests of the package's packaging (plain unittest): the version pip builds
with is meson.build's, and a copy installed by meson finds its library
through scorematch/_config.py.

Arguments: the project version, the path of the library meson's
_config.py must name for the configured prefix, and the path of that
generated _config.py ('' when the package is not installed). Exits with 77 (meson's
"skipped") when NumPy is not importable.
"""

import os
import runpy
import shutil
import subprocess
import sys
import tempfile
import unittest

try:
    import numpy  # noqa: F401
except ImportError:
    print("test_packaging.py: NumPy is not importable with %s: skipped (install "
          "python3-numpy)" % sys.executable)
    sys.exit(77)

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE_ROOT = os.path.dirname(HERE)
VERSION = sys.argv[1]
CONFIGURED_LIBRARY = sys.argv[2]
BUILT_LIBRARY = os.environ["SCOREMATCH_LIBRARY"]
BUILT_CONFIG = sys.argv[3]


class PackagingTest(unittest.TestCase):
    def test_setup_reads_meson_version(self):
        setup = runpy.run_path(os.path.join(PACKAGE_ROOT, "setup.py"), run_name="setup")
        self.assertEqual(setup["project_version"](), VERSION)
        with tempfile.TemporaryDirectory() as root:
            with open(os.path.join(root, "meson.build"), "w") as f:
                f.write("project('x', 'c',\n  version: '7.8.9',\n"
                        "  default_options: ['c_std=c11'])\n")
            self.assertEqual(setup["project_version"](root), "7.8.9")
            os.remove(os.path.join(root, "meson.build"))
            with self.assertRaises(RuntimeError):
                setup["project_version"](root)

    def installed_copy(self, root, library):
        """A copy of the package with a _config.py naming *library*; what
        the copy loads without SCOREMATCH_LIBRARY."""
        shutil.copytree(os.path.join(PACKAGE_ROOT, "scorematch"),
                        os.path.join(root, "scorematch"),
                        ignore=shutil.ignore_patterns("__pycache__"))
        with open(os.path.join(root, "scorematch", "_config.py"), "w") as f:
            f.write("LIBRARY = %r\n" % library)
        env = dict(os.environ, PYTHONPATH=root)
        env.pop("SCOREMATCH_LIBRARY")
        env.pop("LD_LIBRARY_PATH", None)
        code = ("import scorematch._ffi as f; print(f._installed_library()); "
                "print(f._candidates(None)[0][0])")
        out = subprocess.run([sys.executable, "-c", code], env=env, cwd=root,
                             stdout=subprocess.PIPE, check=True, text=True).stdout
        return out.split("\n")[:2]

    def test_config_names_the_library(self):
        with tempfile.TemporaryDirectory() as root:
            installed, first = self.installed_copy(root, BUILT_LIBRARY)
            self.assertEqual(installed, BUILT_LIBRARY)
            self.assertEqual(first, BUILT_LIBRARY)
            env = dict(os.environ, PYTHONPATH=root)
            env.pop("SCOREMATCH_LIBRARY")
            code = "import scorematch; print(scorematch.library_path(), scorematch.version())"
            out = subprocess.run([sys.executable, "-c", code], env=env, cwd=root,
                                 stdout=subprocess.PIPE, check=True, text=True).stdout
            self.assertEqual(out.split(), [BUILT_LIBRARY, VERSION])

    def test_stale_config_is_skipped(self):
        with tempfile.TemporaryDirectory() as root:
            missing = os.path.join(root, "nowhere", "libscorematch.so.0")
            installed, first = self.installed_copy(root, missing)
            self.assertEqual(installed, "None")
            self.assertNotEqual(first, missing)

    def test_source_tree_has_no_config(self):
        self.assertFalse(os.path.exists(os.path.join(PACKAGE_ROOT, "scorematch", "_config.py")))

    @unittest.skipUnless(BUILT_CONFIG, "the Python package is not installed (-Dpython)")
    def test_meson_config_names_the_installed_library(self):
        self.assertEqual(runpy.run_path(BUILT_CONFIG)["LIBRARY"], CONFIGURED_LIBRARY)


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)

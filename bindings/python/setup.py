"""Version of the package: the project version of the top-level meson.build.

Everything else about the package is in pyproject.toml.
"""

import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))


def project_version(root=os.path.join(HERE, "..", "..")):
    """The ``version:`` of ``project()`` in *root*/meson.build."""
    path = os.path.join(root, "meson.build")
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError:
        # An sdist carries its version in PKG-INFO.
        pkg_info = os.path.join(HERE, "PKG-INFO")
        if os.path.exists(pkg_info):
            with open(pkg_info, encoding="utf-8") as f:
                m = re.search(r"^Version:\s*(\S+)", f.read(), re.M)
            if m:
                return m.group(1)
        raise RuntimeError("scorematch: %s not found: build the package from "
                           "bindings/python inside the libscorematch tree" % path)
    m = re.search(r"project\s*\((?:[^()]|\([^()]*\))*?\bversion\s*:\s*'([^']+)'", text)
    if not m:
        raise RuntimeError("scorematch: no project version in %s" % path)
    return m.group(1)


if __name__ == "__main__":
    from setuptools import setup
    setup(version=project_version())

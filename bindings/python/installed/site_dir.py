"""Prints the interpreter's site-packages directory under a prefix.

Of the entries of sys.path named site-packages or dist-packages that lie
under the prefix given as the argument, the one nearest to the prefix
(first on the path when two are as near): under /usr on Debian that is
/usr/lib/python3/dist-packages, under /usr/local
/usr/local/lib/python3.X/dist-packages. Prints nothing when there is none.
"""

import os
import sys

prefix = os.path.abspath(sys.argv[1])
best = None
for entry in sys.path:
    entry = os.path.abspath(entry) if entry else ""
    if os.path.basename(entry) not in ("site-packages", "dist-packages"):
        continue
    if os.path.commonpath([entry, prefix]) != prefix:
        continue
    depth = len(os.path.relpath(entry, prefix).split(os.sep))
    if best is None or depth < best[0]:
        best = (depth, entry)
print(best[1] if best else "")

#!/usr/bin/env python3
"""Compiles every public header on its own as C99 -pedantic -Werror and, when
a C++ compiler is given, as C++11 -pedantic -Werror. A header that needs
another one first, uses a C11/GNU feature or lacks extern "C" fails here."""
import argparse
import os
import subprocess
import sys
import tempfile

ap = argparse.ArgumentParser()
ap.add_argument('--cc', required=True)
ap.add_argument('--cxx')
ap.add_argument('--include', action='append', default=[])
ap.add_argument('--headers-dir', required=True)
a = ap.parse_args()

headers = ['scorematch.h'] + sorted(
    'scorematch/' + f for f in os.listdir(os.path.join(a.headers_dir, 'scorematch'))
    if f.endswith('.h')) + ['scorematch/version.h']
headers = list(dict.fromkeys(headers))
incs = [f'-I{d}' for d in a.include]
failed = 0
passed = 0
with tempfile.TemporaryDirectory() as tmp:
    for h in headers:
        for lang, comp, std, ext in (('c', a.cc, '-std=c99', 'c'),
                                     ('c++', a.cxx, '-std=c++11', 'cpp')):
            if not comp:
                continue
            src = os.path.join(tmp, f'h.{ext}')
            with open(src, 'w') as f:
                # Twice, to check the include guard.
                f.write(f'#include <{h}>\n#include <{h}>\nint main(void) {{ return 0; }}\n'
                        if lang == 'c' else
                        f'#include <{h}>\n#include <{h}>\nint main() {{ return 0; }}\n')
            cmd = [comp, std, '-pedantic', '-Wall', '-Wextra', '-Werror', *incs,
                   '-fsyntax-only', src]
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode:
                failed += 1
                print(f'FAIL {h} as {lang}:\n{r.stderr}')
            else:
                passed += 1
print(f'{passed} passed, {failed} failed')
sys.exit(1 if failed else 0)

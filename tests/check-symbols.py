#!/usr/bin/env python3
"""Checks that the shared library exports exactly the symbols named in the
version script, all under the sm_ prefix, and nothing else."""
import re
import subprocess
import sys

lib, mapfile = sys.argv[1], sys.argv[2]
text = re.sub(r'/\*.*?\*/', '', open(mapfile).read(), flags=re.S)
glob = text.split('global:')[1].split('local:')[0]
wanted = {s.strip() for s in glob.split(';') if s.strip()}
out = subprocess.run(['nm', '-D', '--defined-only', lib], capture_output=True,
                     text=True, check=True).stdout
exported = set()
for line in out.splitlines():
    parts = line.split()
    if len(parts) >= 3 and parts[1] in 'TDBRVWi':
        name = parts[2].split('@')[0]
        if name != 'SCOREMATCH_0':
            exported.add(name)
bad_prefix = sorted(s for s in exported if not s.startswith('sm_'))
missing = sorted(wanted - exported)
extra = sorted(exported - wanted)
for s in bad_prefix:
    print('exported without sm_ prefix:', s)
for s in missing:
    print('in the version script but not exported (no SM_API or no definition?):', s)
for s in extra:
    print('exported but not in the version script:', s)
ok = not (bad_prefix or missing or extra)
print(f'{len(exported)} symbols exported;', 'OK' if ok else 'MISMATCH')
print(f'{1 if ok else 0} passed, {0 if ok else 1} failed')
sys.exit(0 if ok else 1)

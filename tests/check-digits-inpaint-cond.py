#!/usr/bin/env python3
"""End-to-end test of examples/digits_inpaint_cond on a few digits with tiny
networks: the ensemble's imputation is the mean of its members', the
observed halves are kept, the printed RMSE is that of the written rows,
saved members loaded back give the same imputation, and bad input ends
with a message and the documented exit code (1 runtime, 2 usage)."""
import math
import os
import sys
import tempfile

import clicheck

tool, digits_csv, other_model = sys.argv[1], sys.argv[2], sys.argv[3]
check = clicheck.Checks()
ROWS = 30
TINY = ('--rows', str(ROWS), '--width', '16', '--depth', '2', '--steps', '40',
        '--batch', '32', '--draws', '3', '--threads', '1')


def run(*args):
    return clicheck.run(tool, *args)


def read_csv(path):
    with open(path) as f:
        return [[float(v) for v in line.split(',')] for line in f if line.strip()]


def printed_rmse(out, prefix):
    for line in out.splitlines():
        if line.startswith(prefix):
            return float(line.split('rmse=')[1].split()[0])
    return math.nan


digits = read_csv(digits_csv)
held = [r for i, r in enumerate(digits) if i % 3 == 2][:ROWS]

with tempfile.TemporaryDirectory() as tmp:
    p = lambda name: os.path.join(tmp, name)
    rc, out, err = run(*TINY, '--models', '3', '--seed', '5', '--save', p('m'),
                       '--member-out', p('member'), '--out', p('ens.csv'))
    check('train 3 members', rc == 0 and out.count('member ') == 3, out + err)
    members = [read_csv(p(f'member-{m}.csv')) for m in range(3)]
    ens = read_csv(p('ens.csv')) if rc == 0 else []
    check('shapes', len(ens) == ROWS and all(len(r) == 64 for r in ens)
          and all(len(m) == ROWS for m in members), str(len(ens)))
    check('members differ', members[0] != members[1])
    worst = max((abs(ens[i][j] - sum(m[i][j] for m in members) / 3)
                 for i in range(len(ens)) for j in range(64)), default=math.inf)
    check('ensemble = mean of the members', worst < 1e-4, str(worst))
    check('observed halves kept', all(ens[i][:32] == held[i][:32] for i in range(len(ens))))
    check('bottom halves finite', all(math.isfinite(v) for r in ens for v in r))
    err2 = [(ens[i][j] - held[i][j]) ** 2 for i in range(len(ens)) for j in range(32, 64)]
    rmse = math.sqrt(sum(err2) / len(err2)) if err2 else math.nan
    check('printed rmse is the written rows\'', abs(rmse - printed_rmse(out, 'model')) < 1e-3,
          f'{rmse} {out}')
    check('baselines printed', math.isfinite(printed_rmse(out, 'mean'))
          and math.isfinite(printed_rmse(out, 'knn-5')), out)
    m0 = members[0]
    err2 = [(m0[i][j] - held[i][j]) ** 2 for i in range(len(m0)) for j in range(32, 64)]
    check('member rmse printed', abs(math.sqrt(sum(err2) / len(err2))
                                      - printed_rmse(out, 'member 0')) < 1e-3, out)

    loads = ','.join(p(f'm-{m}.smm') for m in range(3))
    rc, out2, err = run(*TINY, '--seed', '5', '--load', loads, '--out', p('ens2.csv'))
    check('load', rc == 0 and 'load_s=' in out2, out2 + err)
    ens2 = read_csv(p('ens2.csv')) if rc == 0 else []
    check('loaded members give the same imputation', len(ens2) == len(ens) and all(
        abs(a - b) < 1e-4 for r, s in zip(ens, ens2) for a, b in zip(r, s)))
    rc, out3, err = run(*TINY, '--seed', '6', '--load', p('m-0.smm'), '--out', p('ens3.csv'))
    check('another seed, other draws', rc == 0 and read_csv(p('ens3.csv')) != members[0],
          out3 + err)

    rc, out4, err = run(*TINY, '--seed', '5', '--load', loads, '--denoise', '5',
                        '--member-out', p('dn'), '--out', p('dn.csv'))
    check('--denoise', rc == 0 and 'nfe=9 ' in out4, out4 + err)
    dn = read_csv(p('dn.csv')) if rc == 0 else []
    dn_members = [read_csv(p(f'dn-{m}.csv')) for m in range(3)] if rc == 0 else []
    check('--denoise ensemble = mean of the members', len(dn) == ROWS and all(
        abs(dn[i][j] - sum(m[i][j] for m in dn_members) / 3) < 1e-4
        for i in range(ROWS) for j in range(64)))
    check('--denoise differs from sampling', dn != ens)

    rc, out, err = run(*TINY, '--val', '--models', '1', '--rows', '2000')
    check('--val splits the training rows', rc == 0 and 'rows: 899 training, 299 validation'
          in out, out + err)

    for bad in (('--models', '0'), ('--models', '33'), ('--draws', 'x'), ('--draws', '0'),
                ('--lr', 'nan'), ('--denoise', '0'), ('--denoise', 'inf'), ('--context-dropout', '1.5'), ('--ema', '1'),
                ('--width',), ('--load', 'a,,b'), ('--load', p('m-0.smm'), '--save', p('z')),
                ('--bogus', '1')):
        rc, out, err = run(*bad)
        check('usage ' + ' '.join(bad), rc == 2 and err, err)
    rc, out, err = run(*TINY, '--load', p('missing.smm'))
    check('missing model', rc == 1 and 'missing.smm' in err, err)
    rc, out, err = run(*TINY, '--load', other_model)
    check('model of another shape', rc == 1 and 'is not a model of 32 pixels' in err, err)
    with open(p('narrow.csv'), 'w') as f:
        f.write('1,2,3\n4,5,6\n')
    rc, out, err = run(*TINY, '--data', p('narrow.csv'))
    check('data of another width', rc == 1 and '64' in err, err)
    rc, out, err = run(*TINY, '--out', os.path.join(tmp, 'no', 'such', 'dir.csv'))
    check('unwritable --out', rc == 1 and err, err)

check.finish()

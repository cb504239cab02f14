#!/usr/bin/env python3
"""End-to-end test of the smtool command-line program: every command, its
outputs, its exit codes (0 ok, 1 runtime error, 2 usage) and its messages."""
import math
import os
import resource
import struct
import subprocess
import sys
import tempfile

import clicheck

tool = sys.argv[1]
v1_model = sys.argv[2]  # a model file of format version 1 (lab, no normalization)
check = clicheck.Checks()


def run(*args):
    return clicheck.run(tool, *args)


def run_limited(limit, *args):
    """run() with the address space limited to *limit* bytes."""
    def limit_memory():
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    return clicheck.run(tool, *args, preexec_fn=limit_memory)


def png_size(path):
    """(width, height) from a PNG file's IHDR chunk."""
    with open(path, 'rb') as f:
        head = f.read(24)
    if head[:8] != b'\x89PNG\r\n\x1a\n' or head[12:16] != b'IHDR':
        return None
    return int.from_bytes(head[16:20], 'big'), int.from_bytes(head[20:24], 'big')


def read_csv(path):
    with open(path) as f:
        return [[float(v) for v in line.split(',')] for line in f if line.strip()]


with tempfile.TemporaryDirectory() as tmp:
    model = os.path.join(tmp, 'moons.smm')
    samples = os.path.join(tmp, 'samples.csv')
    data = os.path.join(tmp, 'data.csv')

    rc, out, err = run('--help')
    check('help', rc == 0 and 'train' in out and 'sample' in out, err)
    rc, out, err = run()
    check('no command', rc == 2)
    rc, out, err = run('frobnicate')
    check('unknown command', rc == 2 and 'unknown command' in err, err)
    for cmd in ('train', 'sample', 'eval', 'plot'):
        rc, out, err = run(cmd, '--help')
        check(f'{cmd} --help', rc == 0 and 'usage' in out, err)

    # Usage errors.
    rc, out, err = run('train', '--toy', 'moons')
    check('train without --out', rc == 2, err)
    rc, out, err = run('train', '--toy', 'nope', '--out', model)
    check('unknown toy', rc == 2 and "unknown toy data set 'nope'" in err, err)
    rc, out, err = run('train', '--toy', 'moons', '--out', model, '--steps', 'x')
    check('bad number', rc == 2 and '--steps' in err, err)
    rc, out, err = run('train', '--data', os.path.join(tmp, 'missing.csv'), '--out', model)
    check('missing data file', rc == 1 and 'missing.csv' in err, err)

    # The output location is checked before any training or sampling: a
    # typo in --out fails at once and leaves no file behind.
    before = sorted(os.listdir(tmp))
    missing_dir = os.path.join(tmp, 'no-such-dir', 'model.smm')
    rc, out, err = run('train', '--toy', 'moons', '--n', '400', '--steps', '2000',
                       '--threads', '1', '--out', missing_dir)
    check('train --out in a missing directory', rc == 1 and missing_dir in err
          and 'No such file or directory' in err and 'points in' not in err, err)
    rc, out, err = run('train', '--toy', 'moons', '--n', '400', '--steps', '2000',
                       '--threads', '1', '--out', tmp)
    check('train --out a directory', rc == 1 and 'is a directory' in err
          and 'points in' not in err, err)
    check('failed output checks leave nothing', sorted(os.listdir(tmp)) == before,
          str(os.listdir(tmp)))

    # Sizes that cannot be allocated are refused up front, with the size.
    rc, out, err = run('train', '--toy', 'moons', '--n', '10000000000000000', '--out', model)
    check('train --n too large', rc == 2 and '--n 10000000000000000' in err
          and 'PiB' in err and 'memory' in err, err)

    # A small model on toy moons, with a loss log.
    log = os.path.join(tmp, 'loss.csv')
    rc, out, err = run('train', '--toy', 'moons', '--n', '800', '--steps', '300', '--width', '32',
                       '--depth', '2', '--threads', '1', '--out', model, '--loss-log', log)
    # The default model (EDM) carries its normalization: no side file.
    check('train', rc == 0 and 'final_loss=' in out and 'edm net' in err
          and os.path.exists(model) and not os.path.exists(model + '.norm'), err)
    lab = os.path.join(tmp, 'lab.smm')
    rc, out, err = run('train', '--toy', 'moons', '--n', '800', '--steps', '300', '--width', '32',
                       '--depth', '2', '--threads', '1', '--out', lab, '--param', 'lab')
    check('train --param lab', rc == 0 and 'lab net' in err and '10 levels' in err, err)
    rc, out, err = run('train', '--toy', 'moons', '--out', lab, '--param', 'vp')
    check('train --param unknown', rc == 2 and '--param' in err, err)
    with open(log) as f:
        lines = f.read().splitlines()
    check('loss log', lines[0] == 'step,loss' and len(lines) == 301, str(len(lines)))

    # Training from a CSV file with a header and comments.
    with open(data, 'w') as f:
        f.write('# two clusters\nx,y\n')
        for i in range(400):
            f.write(f'{(i % 2) * 4 + 0.01 * (i % 7)},{0.02 * (i % 5)}\n')
    model2 = os.path.join(tmp, 'csv.smm')
    rc, out, err = run('train', '--data', data, '--steps', '100', '--width', '16', '--depth', '1',
                       '--threads', '1', '--out', model2)
    check('train from csv', rc == 0, err)
    check('train from csv: header noted',
          f'{data}: first line taken as a header, 400 data rows' in err, err)
    # A mistyped first row is an error, not a header; special files are refused.
    typo = os.path.join(tmp, 'typo.csv')
    with open(typo, 'w') as f:
        f.write('2.O,1\n3,4\n')
    rc, out, err = run('train', '--data', typo, '--out', model2)
    check('train from csv: bad first row', rc == 1 and 'line 1, column 1' in err, err)
    fifo = os.path.join(tmp, 'pipe')
    os.mkfifo(fifo)
    for special in ('/dev/zero', fifo, tmp):
        rc, out, err = run('train', '--data', special, '--out', model2)
        check('train from ' + special, rc == 1 and 'not a regular file' in err, err)

    rc, out, err = run('sample', model, '--n', '300', '--out', samples, '--threads', '1')
    check('sample', rc == 0 and 'nfe=35' in out, err)  # EDM Heun on the 18 kept levels
    pts = read_csv(samples)
    check('sample count', len(pts) == 300 and all(len(p) == 2 for p in pts), str(len(pts)))
    # Samples come back in data units: two moons have mean (0.5, 0.25);
    # with --raw they stay standardized (mean 0).
    mx = sum(p[0] for p in pts) / len(pts)
    my = sum(p[1] for p in pts) / len(pts)
    check('sample units', abs(mx - 0.5) < 0.25 and abs(my - 0.25) < 0.2, f'{mx} {my}')
    raw = os.path.join(tmp, 'raw.csv')
    rc, out, err = run('sample', model, '--n', '300', '--out', raw, '--raw', '--threads', '1')
    rpts = read_csv(raw)
    rmx = sum(p[0] for p in rpts) / len(rpts)
    check('sample --raw', rc == 0 and abs(rmx) < 0.3, f'{rmx} {err}')
    rc, out, err = run('sample', lab, '--n', '10', '--out', samples, '--steps-per-scale', '2',
                       '--no-noise', '--final-denoise', '--threads', '1')
    check('sample options', rc == 0 and 'nfe=21' in out, out + err)
    rc, out, err = run('sample', lab, '--n', '10', '--out', samples, '--threads', '1')
    check('sample lab model', rc == 0 and 'nfe=200' in out, out + err)  # Langevin, 10 x 20
    for m, kind, levels, nfe in ((lab, 'ode-heun', '6', 'nfe=11'),
                                 (lab, 'ode-euler', '6', 'nfe=6'),
                                 (lab, 'pc', '5', 'nfe=10'),
                                 (model, 'dpmpp-2m', '10', 'nfe=10'),
                                 (model, 'edm-stochastic', '12', 'nfe=23'),
                                 (lab, 'edm-heun', '8', 'nfe=15')):
        rc, out, err = run('sample', m, '--n', '300', '--out', samples, '--sampler', kind,
                           '--levels', levels, '--final-denoise', '--threads', '1')
        kpts = read_csv(samples)
        kmx = sum(p[0] for p in kpts) / len(kpts)
        check('sample --sampler ' + kind, rc == 0 and nfe in out and len(kpts) == 300
              and abs(kmx - 0.5) < 0.3, f'{out} {err} {kmx}')
    # Samples to standard output through /dev/fd/1, a pipe here and then a
    # file: written in place (the link is not replaced by a new file).
    rc, out, err = run('sample', model, '--n', '7', '--out', '/dev/fd/1', '--threads', '1')
    rows = [l for l in out.splitlines() if l and not l.startswith('samples=')]
    check('sample to a pipe', rc == 0 and len(rows) == 7
          and all(len(r.split(',')) == 2 for r in rows), out + err)
    redirected = os.path.join(tmp, 'redirected.csv')
    with open(redirected, 'w') as f:
        f.write('older and longer contents\n' * 100)
        f.flush()
        fd = f.fileno()
        r = subprocess.run([tool, 'sample', model, '--n', '7', '--out', f'/dev/fd/{fd}',
                            '--threads', '1'], pass_fds=(fd,), capture_output=True, text=True,
                           timeout=300)
    check('sample to a redirected file', r.returncode == 0 and len(read_csv(redirected)) == 7
          and os.path.isfile(redirected), r.stderr)
    rc, out, err = run('sample', model, '--out', samples, '--sampler', 'euler')
    check('sample --sampler unknown', rc == 2 and 'euler' in err, err)
    rc, out, err = run('sample', model, '--out', samples, '--sampler', 'pc', '--levels', '1')
    check('sample --levels 1', rc == 2, err)
    # A model without normalization and an old-style MODEL.norm beside it
    # (as written before model format version 2): the side file is applied.
    old = os.path.join(tmp, 'old.smm')
    rc, out, err = run('train', '--toy', 'moons', '--n', '400', '--steps', '50', '--width', '8',
                       '--depth', '1', '--threads', '1', '--out', old, '--no-standardize')
    with open(old + '.norm', 'w') as f:
        f.write('100,200\n1,1\n')
    rc, out, err = run('sample', old, '--n', '50', '--out', samples, '--threads', '1')
    opts = read_csv(samples)
    omx = sum(p[0] for p in opts) / len(opts)
    check('sample with a .norm side file', rc == 0 and abs(omx - 100.5) < 1.0, f'{omx} {err}')
    rc, out, err = run('sample', model, '--n', '10000000000000000', '--out', samples)
    check('sample --n too large', rc == 2 and '--n 10000000000000000' in err
          and '10000000000000000 samples of 2 floats' in err and 'PiB' in err
          and 'memory of this machine' in err, err)
    # Allocations that fail below the machine's memory (here under a 1 GiB
    # address-space limit) say what they were for and how big they were.
    # Sanitizer builds reserve more address space than that just to start:
    # they skip this.
    gib = 1 << 30
    if run_limited(gib, '--version')[0] == 0:
        rc, out, err = run_limited(gib, 'sample', model, '--n', '200000000', '--out', samples,
                                   '--threads', '1')
        check('sample --n beyond the memory limit', rc == 1 and 'out of memory' in err
              and 'cannot allocate 1.5 GiB for 200000000 samples of 2 floats' in err, err)
        rc, out, err = run_limited(gib, 'sample', model, '--n', '50000000', '--out', samples,
                                   '--threads', '1')
        check('sampler work arrays beyond the memory limit', rc == 1
              and 'work arrays of 50000000 points (2000000000 bytes)' in err, err)
    rc, out, err = run('sample', model, '--n', '4611686018427387904', '--out', samples)
    check('sample --n overflowing', rc == 2 and 'too large' in err and 'EiB' in err, err)
    rc, out, err = run('sample', model, '--n', '300', '--out',
                       os.path.join(tmp, 'no-such-dir', 's.csv'))
    check('sample --out in a missing directory', rc == 1 and 'no-such-dir' in err
          and 'samples=' not in out, err)
    rc, out, err = run('sample', os.path.join(tmp, 'nope.smm'), '--out', samples)
    check('sample missing model', rc == 1 and 'nope.smm' in err, err)
    bad = os.path.join(tmp, 'bad.smm')
    with open(model, 'rb') as f:
        blob = bytearray(f.read())
    blob[len(blob) // 2] ^= 0xFF
    with open(bad, 'wb') as f:
        f.write(blob)
    rc, out, err = run('sample', bad, '--out', samples)
    check('sample corrupted model', rc == 1 and err.strip() != '', err)

    # Evaluate the samples against fresh moons drawn the same way.
    real = os.path.join(tmp, 'real.csv')
    with open(real, 'w') as f:
        for p in pts:
            f.write(f'{p[0]},{p[1]}\n')
    rc, out, err = run('sample', model, '--n', '300', '--out', samples, '--seed', '1',
                       '--threads', '1')
    rc, out, err = run('eval', real, samples)
    check('eval', rc == 0 and 'coverage=' in out and 'energy_distance=' in out
          and 'improved_recall=' in out and 'frechet_distance=' in out
          and 'header' not in err, err)
    rc, out, err = run('eval', real, real)
    check('eval same set', rc == 0 and 'frechet_distance=0.000000' in out, out)
    rc, out, err = run('eval', real, samples, '--radius', '1e9')
    check('eval radius', rc == 0 and 'coverage=1.0000 precision=1.0000' in out, out)
    # The radius is in the real set's standard deviations by default: two
    # draws of the same ring, in units of thousands, cover each other at the
    # default radius, while the same radius in the files' units finds almost
    # no neighbour.
    import math
    ring_a, ring_b = os.path.join(tmp, 'ring-a.csv'), os.path.join(tmp, 'ring-b.csv')
    for path, phase in ((ring_a, 0.0), (ring_b, 0.5)):
        with open(path, 'w') as f:
            for i in range(600):
                t = 2 * math.pi * (i + phase) / 600
                f.write(f'{5000 + 1000 * math.cos(t)},{-3000 + 1000 * math.sin(t)}\n')
    rc, out, err = run('eval', ring_a, ring_b)
    check('eval radius in standard deviations', rc == 0 and 'radius_units=std' in out
          and 'coverage=1.0000 precision=1.0000' in out, out)
    rc, out, err = run('eval', ring_a, ring_b, '--radius-units', 'data')
    check('eval radius in data units', rc == 0 and 'radius_units=data' in out
          and 'coverage=0.0000 precision=0.0000' in out, out)
    rc, out, err = run('eval', ring_a, ring_b, '--radius-units', 'metres')
    check('eval bad radius units', rc == 2 and 'std or data' in err, err)
    one_col = os.path.join(tmp, 'one.csv')
    with open(one_col, 'w') as f:
        f.write('1\n2\n3\n')
    rc, out, err = run('eval', real, one_col)
    check('eval dimension mismatch', rc == 1 and 'columns' in err, err)
    rc, out, err = run('eval', real)
    check('eval usage', rc == 2)
    # Small real sets: the k-NN metrics that need more than k = 3 (improved
    # precision) or k = 5 (density, coverage) real points are skipped with a
    # note, and everything else is still computed.
    for k in (1, 3, 5):
        few = os.path.join(tmp, f'few{k}.csv')
        with open(few, 'w') as f:
            for p in pts[:k]:
                f.write(f'{p[0]},{p[1]}\n')
        rc, out, err = run('eval', few, samples)
        check(f'eval with {k} real points', rc == 0 and 'coverage=' in out
              and 'energy_distance=' in out and 'mmd2=' in out and 'improved_recall=' in out
              and ('improved_precision=' in out) == (k > 3)
              and ('improved_precision skipped' in err) == (k <= 3)
              and 'density=' not in out and 'density and dc_coverage skipped' in err
              and 'more than 5 real points' in err and f'has {k}' in err
              and ('frechet_distance=' in out) == (k > 1)
              and ('frechet_distance skipped' in err) == (k == 1), out + err)

    # Conditional models: contexts from CSV columns, one-hot label columns,
    # toy labels; sampling with a condition and guidance.
    cdata = os.path.join(tmp, 'cond.csv')
    with open(cdata, 'w') as f:
        for i in range(400):
            lab = i % 2
            x = (-2.0 if lab == 0 else 2.0) + 0.05 * ((i * 37) % 11 - 5)
            f.write(f'{x},{lab},{1 - lab}\n')
    cmodel = os.path.join(tmp, 'cond.smm')
    rc, out, err = run('train', '--data', cdata, '--context-columns', '1,2', '--out', cmodel,
                       '--steps', '300', '--width', '32', '--depth', '2', '--threads', '1',
                       '--context-dropout', '0.2')
    check('train --context-columns', rc == 0 and 'context 2' in err, err)
    with open(cmodel, 'rb') as f:
        check('conditional model is format version 3', f.read(12)[8] == 3)
    ctx = os.path.join(tmp, 'ctx.csv')
    with open(ctx, 'w') as f:
        f.write('1,0\n')  # column 1 is the label: 1, x near +2
    for w in ('0', '2'):
        rc, out, err = run('sample', cmodel, '--context', ctx, '--guidance', w, '--n', '200',
                           '--out', samples, '--threads', '1')
        pts = read_csv(samples) if rc == 0 else []
        check(f'sample --context --guidance {w}', rc == 0 and len(pts) == 200
              and sum(p[0] > 0 for p in pts) > 180, err)
        check(f'guided nfe {w}', ('nfe=35' if w == '0' else 'nfe=70') in out, out)
    # Context columns are standardized by default and the model keeps their
    # mean/std (flag bit 2, a section of c shifts then c scales right before
    # the CRC of a model saved without optimizer state, as with --ema), so
    # contexts in the file's units work; as with the data columns
    # (sm_dataset_standardize()) a constant column's divisor is the floor,
    # 0.1 times the columns' root mean square spread.
    udata = os.path.join(tmp, 'cond-units.csv')
    with open(udata, 'w') as f:
        for i in range(400):
            lab = i % 2
            x = (-2.0 if lab == 0 else 2.0) + 0.05 * ((i * 37) % 11 - 5)
            f.write(f'{x},{5000 + 1000 * lab},7\n')
    umodel = os.path.join(tmp, 'cond-units.smm')
    filled = os.path.join(tmp, 'filled.csv')

    def context_section(path, c):
        with open(path, 'rb') as f:
            b = f.read()
        flags = struct.unpack('<I', b[12:16])[0]
        vals = struct.unpack(f'<{2 * c}f', b[-4 - 8 * c:-4])
        return flags, vals[:c], vals[c:]

    rc, out, err = run('train', '--data', udata, '--context-columns', '1,2', '--out', umodel,
                       '--steps', '300', '--width', '32', '--depth', '2', '--threads', '1',
                       '--context-dropout', '0', '--ema', '0.9')
    check('train --context-columns in large units', rc == 0, err)
    flags, shift, scale = context_section(umodel, 2) if rc == 0 else (0, [0, 0], [0, 0])
    check('context normalization kept in the model', flags & 4 and flags & 2
          and shift == (5500.0, 7.0) and scale[0] == 500.0
          and abs(scale[1] - 0.1 * math.sqrt(500.0 ** 2 / 2)) < 1e-3, (flags, shift, scale))
    uctx = os.path.join(tmp, 'ctx-units.csv')
    for lab, sign in ((1, 1), (0, -1)):
        with open(uctx, 'w') as f:
            f.write(f'{5000 + 1000 * lab},7\n')
        rc, out, err = run('sample', umodel, '--context', uctx, '--n', '200', '--out', samples,
                           '--threads', '1')
        pts = read_csv(samples) if rc == 0 else []
        check(f'sample --context in file units (label {lab})', rc == 0 and len(pts) == 200
              and sum(p[0] * sign > 0 for p in pts) > 180, err)
    # Imputation of every entry with per-row contexts in file units.
    umiss = os.path.join(tmp, 'miss-units.csv')
    uctx2 = os.path.join(tmp, 'ctx-units-rows.csv')
    with open(umiss, 'w') as f:
        f.write('nan\n' * 40)
    with open(uctx2, 'w') as f:
        f.write(''.join(f'{5000 + 1000 * (i % 2)},7\n' for i in range(40)))
    rc, out, err = run('impute', umodel, '--data', umiss, '--context', uctx2, '--out', filled,
                       '--threads', '1')
    pts = read_csv(filled) if rc == 0 else []
    check('impute --context in file units', rc == 0 and len(pts) == 40
          and sum((p[0] > 0) == (i % 2 == 1) for i, p in enumerate(pts)) > 36, err)
    rc, out, err = run('train', '--data', udata, '--context-columns', '1,2', '--out', umodel,
                       '--steps', '20', '--width', '8', '--depth', '1', '--threads', '1',
                       '--ema', '0.9', '--no-standardize-context')
    with open(umodel, 'rb') as f:
        flags = struct.unpack('<I', f.read(16)[12:16])[0] if rc == 0 else -1
    check('--no-standardize-context keeps no context normalization', flags == 2, err)
    rc, out, err = run('train', '--help')
    check('train --help names --no-standardize-context',
          rc == 0 and '--no-standardize-context' in out, out)
    rc, out, err = run('train', '--data', cdata, '--label-column', '1', '--out', cmodel,
                       '--steps', '300', '--width', '32', '--depth', '2', '--threads', '1')
    check('train --label-column', rc == 0 and 'context 2' in err, err)
    with open(cmodel, 'rb') as f:
        flags = struct.unpack('<I', f.read(16)[12:16])[0] if rc == 0 else -1
    check('one-hot label contexts are not standardized', flags >= 0 and not flags & 4, flags)
    rc, out, err = run('sample', cmodel, '--label', '0', '--n', '200', '--out', samples,
                       '--threads', '1')
    pts = read_csv(samples) if rc == 0 else []
    check('sample --label', rc == 0 and len(pts) == 200 and len(pts[0]) == 2
          and sum(p[0] < 0 for p in pts) > 180, err)
    rc, out, err = run('sample', cmodel, '--label', '2', '--out', samples)
    check('sample label outside the classes', rc == 1 and 'outside' in err, err)
    bad_ctx = os.path.join(tmp, 'ctx3.csv')
    with open(bad_ctx, 'w') as f:
        f.write('0,1,0\n')
    rc, out, err = run('sample', cmodel, '--context', bad_ctx, '--out', samples)
    check('sample context of the wrong width', rc == 1 and 'width' in err, err)
    with open(bad_ctx, 'w') as f:
        f.write('0,nan\n')
    rc, out, err = run('sample', cmodel, '--context', bad_ctx, '--out', samples)
    check('sample non-finite context', rc == 1, err)
    # Guidance on a sigma interval: only the levels inside it cost two
    # evaluations.
    rc, out, err = run('sample', cmodel, '--context', ctx, '--guidance', '2', '--n', '50',
                       '--guidance-sigma', '1,inf', '--out', samples, '--threads', '1')
    nfe = int(out.split('nfe=')[1].split()[0]) if rc == 0 and 'nfe=' in out else 0
    check('sample --guidance-sigma', rc == 0 and 35 < nfe < 70, out + err)
    for bad in ('2,1', 'abc', '1', '-1,2', 'nan,1', '1,'):
        rc, out, err = run('sample', cmodel, '--context', ctx, '--guidance', '2',
                           '--guidance-sigma', bad, '--out', samples)
        check(f'--guidance-sigma {bad} refused', rc == 2 and 'guidance-sigma' in err, err)
    rc, out, err = run('sample', cmodel, '--guidance', '1', '--out', samples)
    check('guidance without a condition', rc == 1 and 'context' in err, err)
    rc, out, err = run('sample', cmodel, '--guidance', '-1', '--out', samples)
    check('negative guidance', rc == 1 and 'guidance' in err, err)
    rc, out, err = run('sample', model, '--label', '0', '--out', samples)
    check('label for a model without context', rc == 2 and 'no context' in err, err)
    rc, out, err = run('train', '--data', cdata, '--context-columns', '0,1,2', '--out', cmodel)
    check('no data column left', rc == 2, err)
    rc, out, err = run('train', '--data', cdata, '--context-columns', '7', '--out', cmodel)
    check('context column out of range', rc == 2 and 'context-columns' in err, err)
    rc, out, err = run('train', '--data', cdata, '--label-column', '0', '--out', cmodel)
    check('label column of non-integers', rc == 1 and 'label' in err, err)
    rc, out, err = run('train', '--toy', 'moons', '--toy-labels', '--n', '400', '--steps', '50',
                       '--width', '16', '--depth', '1', '--threads', '1', '--out', cmodel)
    check('train --toy-labels', rc == 0 and 'context 2' in err, err)

    # Imputation: empty and NaN fields are filled in, observed values are
    # written back as read, and the same seed gives the same values.
    holes = os.path.join(tmp, 'holes.csv')
    filled = os.path.join(tmp, 'filled.csv')
    with open(holes, 'w') as f:
        f.write('x,y\n0.5,\nnan,0.25\n1.0,-0.5\n,\n')
    rc, out, err = run('impute', model, '--data', holes, '--out', filled, '--resample', '1',
                       '--seed', '3', '--threads', '1')
    rows = read_csv(filled) if rc == 0 else []
    check('impute', rc == 0 and 'imputed=' in out and len(rows) == 4
          and rows[0][0] == 0.5 and rows[1][1] == 0.25 and rows[2] == [1.0, -0.5]
          and all(math.isfinite(v) for r in rows for v in r), err + str(rows))
    first = rows
    rc, out, err = run('impute', model, '--data', holes, '--out', filled, '--resample', '1',
                       '--seed', '3', '--threads', '1')
    check('impute same seed', rc == 0 and read_csv(filled) == first, err)
    rc, out, err = run('impute', model, '--data', holes, '--out', filled, '--sampler', 'dpmpp-2m',
                       '--seed', '4', '--threads', '1')
    check('impute --sampler', rc == 0 and 'nfe=18' in out, out + err)
    # Several draws: their average, K times the evaluations, and their
    # spread (0 where observed).
    spread = os.path.join(tmp, 'spread.csv')
    rc, out, err = run('impute', model, '--data', holes, '--out', filled, '--sampler', 'dpmpp-2m',
                       '--seed', '4', '--threads', '1', '--draws', '4', '--spread-out', spread)
    rows = read_csv(filled) if rc == 0 else []
    sp = read_csv(spread) if rc == 0 else []
    check('impute --draws', rc == 0 and 'nfe=72' in out and len(rows) == 4
          and rows[0][0] == 0.5 and rows[1][1] == 0.25 and rows[2] == [1.0, -0.5]
          and all(math.isfinite(v) for r in rows for v in r), out + err + str(rows))
    check('impute --spread-out', len(sp) == 4 and sp[0][0] == 0 and sp[1][1] == 0
          and sp[2] == [0, 0] and sp[0][1] > 0 and sp[1][0] > 0 and sp[3][0] > 0
          and all(math.isfinite(v) for r in sp for v in r), str(sp))
    # An ensemble: several models, model m drawing from seed S + 1000 m; the
    # output is the average of the models' own imputations.
    model2 = os.path.join(tmp, 'moons2.smm')
    rc, out, err = run('train', '--toy', 'moons', '--n', '400', '--steps', '50', '--width', '16',
                       '--depth', '1', '--threads', '1', '--seed', '9', '--out', model2)
    check('train a second model', rc == 0, err)
    parts = []
    for m, seed in ((model, 4), (model2, 1004)):
        rc, out, err = run('impute', m, '--data', holes, '--out', filled, '--sampler', 'dpmpp-2m',
                           '--seed', str(seed), '--threads', '1', '--draws', '2')
        parts.append(read_csv(filled) if rc == 0 else [])
    rc, out, err = run('impute', model, model2, '--data', holes, '--out', filled, '--sampler',
                       'dpmpp-2m', '--seed', '4', '--threads', '1', '--draws', '2')
    ens = read_csv(filled) if rc == 0 else []
    check('impute ensemble', rc == 0 and 'nfe=72' in out and len(ens) == 4
          and ens[0][0] == 0.5 and ens[1][1] == 0.25 and ens[2] == [1.0, -0.5], out + err)
    check('impute ensemble members differ', parts[0] != parts[1], str(parts))
    worst = max((abs(ens[i][j] - (parts[0][i][j] + parts[1][i][j]) / 2)
                 for i in range(len(ens)) for j in range(2)), default=math.inf)
    check('impute ensemble = mean of the models', worst < 1e-5, str(worst))
    rc, out, err = run('impute', model, model2, '--data', holes, '--out', filled, '--draws', '2',
                       '--spread-out', spread)
    check('impute ensemble --spread-out refused', rc == 2 and 'one model' in err, err)
    rc, out, err = run('impute', model, v1_model, '--data', holes, '--out', filled)
    check('impute ensemble of other dimensions', rc == 1 and 'columns' in err, err)
    rc, out, err = run('impute', model, os.path.join(tmp, 'missing.smm'), '--data', holes,
                       '--out', filled)
    check('impute ensemble with a missing model', rc == 1 and 'missing.smm' in err, err)
    rc, out, err = run('sample', model, model2, '--out', samples)
    check('sample takes one model', rc == 2, err)
    for bad in (['--draws', '0'], ['--draws', '20000'], ['--spread-out', spread],
                ['--draws', '1', '--spread-out', spread]):
        rc, out, err = run('impute', model, '--data', holes, '--out', filled, *bad)
        check(f'impute {" ".join(bad)} refused', rc == 2, err)
    rc, out, err = run('sample', model, '--out', samples, '--draws', '2')
    check('sample has no --draws', rc == 2, err)
    rc, out, err = run('impute', model, '--out', filled)
    check('impute without --data', rc == 2, err)
    rc, out, err = run('impute', model, '--data', holes, '--out', filled, '--resample', '5000')
    check('impute --resample too large', rc == 2, err)
    with open(holes, 'w') as f:
        f.write('1,2,\n')
    rc, out, err = run('impute', model, '--data', holes, '--out', filled)
    check('impute wrong columns', rc == 1 and 'columns' in err, err)
    with open(holes, 'w') as f:
        f.write('1,inf\n')
    rc, out, err = run('impute', model, '--data', holes, '--out', filled)
    check('impute inf refused', rc != 0 and 'not finite' in err, err)
    rc, out, err = run('sample', model, '--data', holes, '--out', filled)
    check('sample has no --data', rc == 2, err)

    png = os.path.join(tmp, 'plot.png')
    rc, out, err = run('plot', png, real, samples, '--title', 'test')
    plot_built = rc == 0
    if rc == 0:
        check('plot png', png_size(png) == (720, 676), str(png_size(png)))
    else:
        check('plot without cairo', rc == 1 and 'not built' in err, err)
    rc, out, err = run('plot', png)
    check('plot usage', rc == 2)

    # --quiet: no progress or information, the result line stays.
    rc, out, err = run('train', '--toy', 'moons', '--n', '200', '--steps', '20', '--width', '8',
                       '--depth', '1', '--threads', '1', '--out', model, '--quiet')
    check('train --quiet', rc == 0 and 'final_loss=' in out and err == '', err)
    rc, out, err = run('eval', real, samples, '--quiet')
    check('eval --quiet', rc == 0 and 'coverage=' in out and err == '', err)

    # --save-data writes the toy training points; it goes with --toy only.
    saved = os.path.join(tmp, 'toy.csv')
    rc, out, err = run('train', '--toy', 'circles', '--n', '321', '--steps', '5', '--width', '8',
                       '--depth', '1', '--threads', '1', '--out', model, '--save-data', saved)
    spts = read_csv(saved) if os.path.exists(saved) else []
    radii = [math.hypot(p[0], p[1]) for p in spts]
    check('train --save-data', rc == 0 and len(spts) == 321 and all(len(p) == 2 for p in spts)
          and 0.5 < max(radii) < 1.3 and 'written to' in err, err)
    rc, out, err = run('train', '--data', real, '--out', model, '--save-data', saved)
    check('--save-data without --toy', rc == 2 and '--save-data' in err, err)
    # Every output is checked before the training starts.
    for flag in ('--save-data', '--loss-log'):
        bad = os.path.join(tmp, 'no-such-dir', 'x.csv')
        rc, out, err = run('train', '--toy', 'moons', '--n', '400', '--steps', '2000',
                           '--threads', '1', '--out', model, flag, bad)
        check(f'train {flag} in a missing directory', rc == 1 and flag in err and bad in err
              and 'points in' not in err and 'step' not in err, err)
    rc, out, err = run('plot', os.path.join(tmp, 'no-such-dir', 'p.png'), real)
    check('plot output checked', rc == 1 and 'no-such-dir' in err, err)

    # A leading index column (pandas' to_csv without index=False) is
    # refused, naming the column and the option that reads the file.
    indexed = os.path.join(tmp, 'indexed.csv')
    with open(indexed, 'w') as f:
        f.write(',x,y,z\n')
        for i in range(300):
            t = 4.71 + 9.42 * i / 300
            f.write(f'{i},{t * math.cos(t):.4f},{(i * 7) % 21},{t * math.sin(t):.4f}\n')
    rc, out, err = run('train', '--data', indexed, '--out', model, '--steps', '5')
    check('index column refused', rc == 1 and 'column 1' in err and 'index column' in err
          and '--index-column skip' in err, err)
    rc, out, err = run('train', '--data', indexed, '--out', model, '--steps', '5', '--width', '8',
                       '--depth', '1', '--threads', '1', '--index-column', 'skip')
    check('--index-column skip', rc == 0 and '3-D' in err and 'index column' in err, err)
    rc, out, err = run('train', '--data', indexed, '--out', model, '--steps', '5', '--width', '8',
                       '--depth', '1', '--threads', '1', '--index-column', 'keep')
    check('--index-column keep', rc == 0 and '4-D' in err, err)
    rc, out, err = run('train', '--data', indexed, '--out', model, '--index-column', 'drop')
    check('--index-column bad value', rc == 2 and 'refuse, skip or keep' in err, err)
    semi = os.path.join(tmp, 'semi.csv')
    with open(semi, 'w') as f:
        f.write('x;y\n1;2\n3;4\n')
    rc, out, err = run('eval', semi, semi)
    check('separator named', rc == 1 and "separated by ';'" in err, err)

    # A model without normalization: a warning says where the points are.
    rc, out, err = run('sample', v1_model, '--n', '5', '--out', samples, '--threads', '1')
    check('v1 model without .norm: warning', rc == 0 and 'WARNING' in err
          and 'version 1' in err and 'STANDARDIZED' in err and v1_model + '.norm' in err, err)
    rc, out, err = run('sample', v1_model, '--n', '5', '--out', samples, '--threads', '1',
                       '--raw', '--quiet')
    check('--raw: no warning', rc == 0 and 'WARNING' not in err, err)
    rc, out, err = run('train', '--toy', 'moons', '--n', '200', '--steps', '5', '--width', '8',
                       '--depth', '1', '--threads', '1', '--out', old, '--no-standardize')
    os.remove(old + '.norm')
    rc, out, err = run('sample', old, '--n', '5', '--out', samples, '--threads', '1')
    check('unnormalized model: warning', rc == 0 and 'WARNING' in err
          and 'no normalization' in err, err)
    rc, out, err = run('sample', model, '--n', '5', '--out', samples, '--threads', '1')
    check('normalized model: no warning', rc == 0 and 'WARNING' not in err, err)

    # Plots: the columns chosen, a pair plot for more than 2 columns.
    if plot_built:
        rc, out, err = run('plot', png, indexed, '--index-column', 'skip', '--quiet')
        check('plot pair plot', rc == 0 and 'columns=0,1,2' in out
              and png_size(png) == (736, 718) and err == '', out + err)
        rc, out, err = run('plot', png, indexed, '--index-column', 'skip', '--columns', '0,2',
                           '--title', 'x and z')
        check('plot --columns', rc == 0 and 'columns=0,2' in out
              and png_size(png) == (720, 676), out + err)
        rc, out, err = run('plot', png, indexed, '--index-column', 'skip', '--x', '2', '--y', '1')
        check('plot --x --y', rc == 0 and 'columns=2,1' in out, out + err)
        rc, out, err = run('plot', png, indexed, '--index-column', 'skip', '--pairs', '2')
        check('plot --pairs', rc == 0 and 'columns=0,1 ' in out, out + err)
        rc, out, err = run('plot', png, indexed, '--index-column', 'skip', '--columns', '0,5')
        check('plot bad column', rc == 1 and 'column 5 does not exist' in err
              and '3 columns' in err, err)
    for bad in (('--columns', '1'), ('--columns', '0,x'), ('--x', '0'),
                ('--columns', '0,1', '--x', '0', '--y', '1'), ('--pairs', '9')):
        rc, out, err = run('plot', png, real, *bad)
        check('plot usage ' + ' '.join(bad), rc == 2, err)

    # No temporary file is left beside any output.
    left = [f for f in os.listdir(tmp) if '.tmp-' in f]
    check('no temporary files left', not left, str(left))

check.finish()

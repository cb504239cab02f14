"""What the end-to-end tests of the command-line programs share: running a
program and counting checks."""
import subprocess
import sys


def run(tool, *args, preexec_fn=None):
    """(exit code, stdout, stderr) of *tool* run with *args*."""
    r = subprocess.run([tool, *args], capture_output=True, text=True, timeout=300,
                       preexec_fn=preexec_fn)
    return r.returncode, r.stdout, r.stderr


class Checks:
    """check(name, cond, detail) counts a check and prints the failed ones;
    finish() prints the tally and exits 1 if any failed."""

    def __init__(self):
        self.passed = self.failed = 0

    def __call__(self, name, cond, detail=''):
        if cond:
            self.passed += 1
        else:
            self.failed += 1
            print(f'FAIL {name} {detail}')

    def finish(self):
        print(f'{self.passed} passed, {self.failed} failed')
        sys.exit(1 if self.failed else 0)

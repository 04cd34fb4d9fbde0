"""The red-team suite at a larger size, for a nightly job: `python bench/redteam.py [SCALE]`.

Runs tests/redteam/ with LEADRULES_REDTEAM_SCALE=SCALE (default 20): SCALE times as many damaged rule
files (different ones: the seeded corpus grows), and prints the table of cases tried and failures per
category at the end. Exit status is pytest's: 0 when every case passed.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    scale = sys.argv[1] if len(sys.argv) > 1 else "20"
    env = {**os.environ, "LEADRULES_REDTEAM_SCALE": scale, "PYTHONPATH": str(ROOT)}
    return subprocess.call([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/redteam"],
                           cwd=ROOT, env=env)


if __name__ == "__main__":
    raise SystemExit(main())

#!/usr/bin/env python3
"""Set up and run socialbot from a fresh clone with nothing but Python 3.11+.

    python3 scripts/dev.py demo    # the daemon on SQLite with the demo connector (Ctrl-C stops)
    python3 scripts/dev.py test    # lint, type-check and the whole test suite

Each creates ./.venv on first use and reinstalls only when pyproject.toml changes.
Anything after the command is passed on (e.g. `test -k email`, `demo --once`).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".socialbot-installed"


def sh(*args: str | Path) -> None:
    print("+", " ".join(str(a) for a in args), flush=True)
    subprocess.run([str(a) for a in args], cwd=ROOT, check=True)


def ensure_venv() -> None:
    if sys.version_info < (3, 11):
        sys.exit(f"socialbot needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    if not (BIN / "python").exists():
        print(f"creating virtualenv in {VENV}", flush=True)
        venv.create(VENV, with_pip=True)
    sh(BIN / "python", "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    sh(BIN / "python", "-m", "pip", "install", "--quiet", "-e", ".[dev]")
    STAMP.write_text(wanted)


def demo(extra: list[str]) -> int:
    ensure_venv()
    return subprocess.call([str(BIN / "socialbot"), "run", "--demo", *extra], cwd=ROOT)


def test(extra: list[str]) -> int:
    ensure_venv()
    steps = [
        [str(BIN / "ruff"), "check", "."],
        [str(BIN / "mypy")],
        [str(BIN / "python"), "-m", "pytest", *extra],
    ]
    for step in steps:
        print("+", " ".join(step), flush=True)
        code = subprocess.call(step, cwd=ROOT)
        if code != 0:
            return code
    return 0


def main() -> int:
    commands = {"demo": demo, "test": test}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        print(__doc__)
        return 2
    try:
        return commands[sys.argv[1]](sys.argv[2:])
    except subprocess.CalledProcessError as exc:
        print(f"set-up failed: {exc}", file=sys.stderr)
        return exc.returncode or 1


if __name__ == "__main__":
    sys.exit(main())

"""Run every benchmark under bench/ (files named bench_*.py) and print their reports.

    .venv/bin/python bench/run.py            # all
    .venv/bin/python bench/run.py catalog    # only bench_catalog.py
    .venv/bin/python bench/run.py sync --full   # options are read by the benchmarks
    .venv/bin/python bench/run.py --help     # this text and the benchmarks' names

The benchmarks need fieldkit installed (``pip install -e '.[test]'``, as scripts/test does).
Run with another Python (a plain ``python bench/run.py``), this script re-runs itself with
the checkout's ``.venv`` interpreter when there is one, and otherwise says what to do.

Each benchmark is a script with a ``main() -> int`` that prints its measurements as ratios
against a baseline measured in the same run, and returns non-zero when a target is missed.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _venv_python() -> Path:
    if os.name == "nt":
        return ROOT / ".venv" / "Scripts" / "python.exe"
    return ROOT / ".venv" / "bin" / "python"


def _installed() -> str | None:
    """None when fieldkit (with its shipped data) can be imported; else what is missing."""
    try:
        importlib.import_module("fieldkit.data")
        importlib.import_module("textual")
    except ImportError as exc:
        return str(exc)
    return None


def _rerun_in_venv(argv: list[str], missing: str) -> int:
    venv = _venv_python()
    in_venv = Path(sys.prefix).resolve() == (ROOT / ".venv").resolve()
    if venv.is_file() and not in_venv:
        print(f"bench/run.py: fieldkit is not installed for {sys.executable}; using {venv}")
        return subprocess.call([str(venv), str(Path(__file__).resolve()), *argv])
    print(
        f"bench/run.py: fieldkit is not installed for this Python ({sys.executable}: {missing}).\n"
        "Install it into a virtual environment and run the benchmarks with that Python:\n"
        "    python3 -m venv .venv && .venv/bin/pip install -e '.[test]'\n"
        "    .venv/bin/python bench/run.py",
        file=sys.stderr,
    )
    return 2


def main(argv: list[str]) -> int:
    missing = _installed()
    if missing is not None:
        return _rerun_in_venv(argv, missing)
    names = sorted(path.stem.removeprefix("bench_") for path in HERE.glob("bench_*.py"))
    if {"-h", "--help"} & set(argv):
        print(__doc__.strip())
        print(f"\nbenchmarks: {', '.join(names)}")
        return 0
    wanted = {a for a in argv if not a.startswith("-")}  # options (--full …): for the benchmarks
    unknown = sorted(wanted - set(names))
    if unknown:
        print(
            f"bench/run.py: no benchmark named {', '.join(unknown)} (there are: {', '.join(names)})",
            file=sys.stderr,
        )
        return 2
    failures = 0
    for path in sorted(HERE.glob("bench_*.py")):
        name = path.stem.removeprefix("bench_")
        if wanted and name not in wanted:
            continue
        print(f"== {name} ==", flush=True)
        started = time.perf_counter()
        try:
            spec = importlib.util.spec_from_file_location(path.stem, path)
            assert spec and spec.loader
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            code = module.main()
        except Exception:  # one broken benchmark must not hide the others' reports
            traceback.print_exc()
            code = 1
        print(
            f"-- {name}: {'ok' if code == 0 else 'TARGET MISSED'} "
            f"({time.perf_counter() - started:.1f} s)\n",
            flush=True,
        )
        failures += code != 0
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

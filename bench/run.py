"""Run every benchmark under bench/ (files named bench_*.py) and print their reports.

    python bench/run.py            # all
    python bench/run.py catalog    # only bench_catalog.py

Each benchmark is a script with a ``main() -> int`` that prints its measurements as ratios
against a baseline measured in the same run, and returns non-zero when a target is missed.
"""

from __future__ import annotations

import importlib.util
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    wanted = set(argv)
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

"""Packaging: every folder that ships files is a listed package, so an install or a wheel
build prints no setuptools "absent from the packages configuration" warning (one per
data-only folder, ~490 lines before)."""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any

import pytest
import setuptools

ROOT = Path(__file__).resolve().parents[2]


def setup_kwargs(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    captured: dict[str, Any] = {}
    monkeypatch.setattr(setuptools, "setup", lambda **kw: captured.update(kw))
    monkeypatch.chdir(ROOT)
    runpy.run_path(str(ROOT / "setup.py"), run_name="__main__")
    return captured


def shipped_folders() -> dict[str, Path]:
    """package name → folder, for every folder holding a file that ships."""
    found: dict[str, Path] = {}
    for top, name in ((ROOT / "fieldkit", "fieldkit"), (ROOT / "data", "fieldkit.data")):
        for folder in [top, *sorted(p for p in top.rglob("*") if p.is_dir())]:
            if "__pycache__" in folder.parts or not any(f.is_file() for f in folder.iterdir()):
                continue
            relative = folder.relative_to(top).parts
            found[".".join((name, *relative))] = folder
    return found


def test_every_shipped_folder_is_a_package(monkeypatch: pytest.MonkeyPatch) -> None:
    kwargs = setup_kwargs(monkeypatch)
    packages = set(kwargs["packages"])
    folders = shipped_folders()
    assert "fieldkit.data.fault_codes" in folders
    assert "fieldkit.locale.zh_CN.LC_MESSAGES" in folders
    missing = sorted(name for name in folders if name not in packages)
    assert missing == []
    assert not [p for p in packages if "__pycache__" in p]
    assert kwargs["package_dir"] == {"fieldkit.data": "data"}


def test_bench_run_refuses_an_unknown_benchmark_name() -> None:
    """A mistyped benchmark name is an error naming the known ones (it ran nothing, exit 0)."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "catalgo"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done
    assert "catalgo" in done.stderr and "catalog," in done.stderr  # names the known ones
    assert "== " not in done.stdout  # no benchmark ran

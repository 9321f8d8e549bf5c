"""Packages are found automatically; data/ (top level, what a utility edits) ships
inside the wheel as the package ``fieldkit.data``. Everything else is in pyproject.toml."""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["fieldkit", "fieldkit.*"]), "fieldkit.data"],
    package_dir={"fieldkit.data": "data"},
)

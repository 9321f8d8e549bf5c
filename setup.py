"""Packages are found automatically; data/ (top level, what a utility edits) ships
inside the wheel as the package ``fieldkit.data``. Everything else is in pyproject.toml.

Folders that hold only data (``data/fault_codes``, ``locale/zh_CN/LC_MESSAGES``, the
alembic ``migrations/versions``…) are listed as namespace packages, so setuptools knows
they belong to the distribution (otherwise it warns once per folder on every install).
"""

from setuptools import find_namespace_packages, setup

EXCLUDE = ["*.__pycache__", "*.__pycache__.*"]

code = find_namespace_packages(include=["fieldkit", "fieldkit.*"], exclude=EXCLUDE)
data = [
    f"fieldkit.data.{name}"
    for name in find_namespace_packages(where="data", exclude=["__pycache__", *EXCLUDE])
]

setup(
    packages=[*code, "fieldkit.data", *data],
    package_dir={"fieldkit.data": "data"},
)

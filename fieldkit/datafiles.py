"""Loading the YAML tables a utility edits, with errors a supervisor can act on.

Every problem becomes one :class:`DataProblem` naming the file, the entry id (when the
entry has one) and the field. A file whose header is broken is skipped whole; a file with
one bad entry loses only that entry (``load_entries``), so the rest of the catalog loads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

try:  # libyaml's C loader is several times faster; PyYAML wheels ship it.
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - pure-Python fallback
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

M = TypeVar("M", bound=BaseModel)


class HasId(Protocol):
    @property
    def id(self) -> str: ...


Item = TypeVar("Item", bound=HasId)


def find_by_id(items: Iterable[Item], item_id: str, missing: type[KeyError] = KeyError) -> Item:
    """The item whose ``id`` is ``item_id``; ``missing(item_id)`` is raised when there is none."""
    for item in items:
        if item.id == item_id:
            return item
    raise missing(item_id)


@dataclass(frozen=True)
class DataProblem:
    """One thing wrong in one data file."""

    file: Path
    message: str
    entry: str | None = None
    field: str | None = None

    def __str__(self) -> str:
        where = str(self.file)
        if self.entry:
            where += f" [entry {self.entry}]"
        if self.field:
            where += f" field '{self.field}'"
        return f"{where}: {self.message}"


class DataFileError(Exception):
    """Raised by strict loaders; carries every problem found."""

    def __init__(self, problems: list[DataProblem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def read_yaml(path: Path) -> tuple[Any, list[DataProblem]]:
    """Parse one YAML file; a syntax error becomes a problem with its line and column."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        return None, [DataProblem(path, f"not UTF-8 text ({exc.reason} at byte {exc.start})")]
    except OSError as exc:
        return None, [DataProblem(path, f"cannot read: {exc.strerror or exc}")]
    try:
        return yaml.load(text, Loader=_Loader), []
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        return None, [DataProblem(path, f"YAML syntax error{where}: {problem}")]


def _loc(loc: Iterable[Any]) -> str:
    return ".".join(str(p) for p in loc)


def validation_problems(
    path: Path, exc: ValidationError, entry: str | None = None, prefix: str = ""
) -> list[DataProblem]:
    """One problem per pydantic error, with the dotted field path."""
    problems = []
    for err in exc.errors():
        field = _loc(err["loc"])
        if prefix:
            field = f"{prefix}.{field}" if field else prefix
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown field (check its spelling)"
        elif err["type"] == "missing":
            msg = "required field is missing"
        problems.append(DataProblem(path, msg, entry=entry, field=field or None))
    return problems


def validate(
    model: type[M], data: Any, path: Path, entry: str | None = None, prefix: str = ""
) -> tuple[M | None, list[DataProblem]]:
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        return None, validation_problems(path, exc, entry=entry, prefix=prefix)


def load_entries(
    path: Path,
    items: Any,
    model: type[M],
    list_field: str,
    entry_id: Callable[[Any], str | None] = lambda raw: (
        raw.get("id") if isinstance(raw, dict) else None
    ),
) -> tuple[list[M], list[DataProblem]]:
    """Validate each item of a list on its own, so one bad entry does not sink the file."""
    if items is None:
        return [], []
    if not isinstance(items, list):
        return [], [DataProblem(path, "must be a list", field=list_field)]
    good: list[M] = []
    problems: list[DataProblem] = []
    for index, raw in enumerate(items):
        ident = entry_id(raw) or f"#{index + 1}"
        obj, errs = validate(model, raw, path, entry=ident, prefix=f"{list_field}[{index}]")
        if obj is not None:
            good.append(obj)
        problems.extend(errs)
    return good, problems


def yaml_files(folder: Path) -> Iterator[Path]:
    """YAML files of a folder in a stable order (``*.yaml`` and ``*.yml``)."""
    if not folder.is_dir():
        return iter(())
    return iter(
        sorted(p for p in folder.iterdir() if p.suffix in {".yaml", ".yml"} and p.is_file())
    )

"""Reading table files entry by entry, and layering a utility's folders over the shipped data.

Shared by the fault catalog (``data/fault_codes``) and the tool-card reference
(``data/tool_cards``). A table file has a header (schema, device or family, source, notes)
and a list of items (``entries`` or ``cards``). The header is validated first: if it is
broken the file is skipped whole. Then every item is validated on its own, so one bad entry
costs only that entry. Every problem names the file, the entry id and the field.

Layering: folders are read in order (shipped data first, then each ``FIELDKIT_DATA``
folder). A table whose key (device or family) is already loaded from an earlier folder
*replaces* it; a new key adds a table. Each replacement is recorded in a
:class:`TableSource` so the user can see which file is in force.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from fieldkit.datafiles import DataProblem, load_entries, read_yaml, validate, yaml_files
from fieldkit.i18n import N_

T = TypeVar("T", bound=BaseModel)

# Messages of model-level validators → the field they are about, so a problem names it.
_FIELD_HINTS: list[tuple[str, str]] = [
    ("must list its emergency steps", "emergency"),
    ("needs at least one cause, remedy", "causes"),
    ("have no remedy", "remedies"),
    ("manual source needs 'section'", "section"),
    ("needs 'citation' and 'confidence'", "citation"),
]
_ITEM_FIELD = re.compile(r"^[a-z_]+\[\d+\]$")


def refine_field(problem: DataProblem) -> DataProblem:
    """Point a whole-object validator error at the field it is about (``entries[3].emergency``)."""
    for needle, field in _FIELD_HINTS:
        if needle in problem.message:
            base = problem.field
            if base is None:
                return replace(problem, field=field)
            if _ITEM_FIELD.match(base) or base.endswith("source"):
                return replace(problem, field=f"{base}.{field}")
    return problem


@dataclass(frozen=True)
class TableSource:
    """Which file a table was loaded from, and which file it replaced (if any)."""

    kind: str  # "fault_table" or "tool_cards"
    key: str
    path: Path
    replaces: Path | None = None

    def __str__(self) -> str:
        text = f"{self.kind} {self.key}: {self.path}"
        return text + (f" (replaces {self.replaces})" if self.replaces else "")


@dataclass
class LoadedTable(Generic[T]):
    table: T
    path: Path


def load_table_file(
    path: Path,
    table_model: type[T],
    item_model: type[BaseModel],
    list_field: str,
    check_item: Callable[[T, BaseModel, int], list[DataProblem]] | None = None,
) -> tuple[T | None, list[DataProblem]]:
    """One table file: header first (whole file skipped if broken), then item by item."""
    raw, problems = read_yaml(path)
    if problems:
        return None, problems
    if not isinstance(raw, dict):
        return None, [DataProblem(path, N_("the file must be a mapping (schema, source, ...)"))]
    header_raw = {k: v for k, v in raw.items() if k != list_field}
    header, problems = validate(table_model, header_raw, path)
    if header is None:
        return None, [refine_field(p) for p in problems]
    items, item_problems = load_entries(path, raw.get(list_field), item_model, list_field)
    problems = [refine_field(p) for p in item_problems]
    good: list[BaseModel] = []
    if check_item is not None:
        # Field paths need each item's position in the file; good items always have an id.
        raw_items = raw.get(list_field)
        position: dict[Any, int] = {}
        if isinstance(raw_items, list):
            for i, raw_item in enumerate(raw_items):
                if isinstance(raw_item, dict):
                    position.setdefault(raw_item.get("id"), i)
        for item in items:
            extra = check_item(header, item, position.get(getattr(item, "id", None), 0))
            problems.extend(extra)
            if not extra:
                good.append(item)
    else:
        good = list(items)
    return header.model_copy(update={list_field: good}), problems


def tables_in(folder: Path, subfolder: str) -> list[Path]:
    """YAML files of ``folder/subfolder`` (a data root) or of ``folder`` itself (flat).

    A flat folder is accepted so a utility can point ``FIELDKIT_DATA`` or ``data check``
    at a folder of fault tables; files whose ``schema`` is for another kind of table are
    left to their own loader (see :func:`schema_of`).
    """
    sub = folder / subfolder
    if sub.is_dir():
        return list(yaml_files(sub))
    return list(yaml_files(folder))


_SCHEMA_LINE = re.compile(r"^schema:\s*['\"]?([\w./-]+)", re.MULTILINE)


def schema_of(path: Path) -> str | None:
    """The ``schema:`` value of a YAML file, read cheaply (without parsing the file)."""
    try:
        head = path.read_text(encoding="utf-8", errors="replace")[:4096]
    except OSError:
        return None
    match = _SCHEMA_LINE.search(head)
    return match.group(1) if match else None


def load_layered(
    folders: list[Path],
    subfolder: str,
    schema: str,
    kind: str,
    load_one: Callable[[Path], tuple[T | None, list[DataProblem]]],
    key_of: Callable[[T], str],
    claim_unknown: bool = False,
) -> tuple[dict[str, LoadedTable[T]], list[TableSource], list[DataProblem]]:
    """Load every table of ``kind`` from the folders in order; later folders override.

    In a flat folder only files whose ``schema`` is ``schema`` are read; files with no
    readable schema line, and folders that do not exist (a mistyped ``FIELDKIT_DATA``),
    are reported by the loader with ``claim_unknown``.
    """
    tables: dict[str, LoadedTable[T]] = {}
    sources: list[TableSource] = []
    problems: list[DataProblem] = []
    for folder in folders:
        if not folder.is_dir():
            if claim_unknown:  # reported once, by the fault-table loader
                problems.append(DataProblem(folder, N_("data folder does not exist")))
            continue
        flat = not (folder / subfolder).is_dir()
        seen_here: dict[str, Path] = {}
        for path in tables_in(folder, subfolder):
            found = schema_of(path)
            if flat and found != schema and (found is not None or not claim_unknown):
                continue  # another kind of table in a flat folder
            table, file_problems = load_one(path)
            problems.extend(file_problems)
            if table is None:
                continue
            key = key_of(table)
            if key in seen_here:
                problems.append(
                    DataProblem.of(
                        path,
                        N_(
                            "{kind} key {key} is already defined by {other} in the same "
                            "folder; this file is ignored"
                        ),
                        field="key",
                        kind=kind,
                        key=key,
                        other=seen_here[key].name,
                    )
                )
                continue
            seen_here[key] = path
            replaced = tables[key].path if key in tables else None
            tables[key] = LoadedTable(table, path)
            sources = [s for s in sources if s.key != key]
            sources.append(TableSource(kind, key, path, replaced))
    return tables, sources, problems

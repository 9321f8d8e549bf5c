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

from fieldkit.i18n import N_, _

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
    """One thing wrong in one data file.

    ``message`` is English (logs, ``str()``); :meth:`text` and :meth:`describe` give it in
    the current language: ``template`` is its msgid and ``params`` fill it in. A problem
    built with :meth:`of` or :meth:`from_error` carries both; a plain one is looked up in
    the catalogs as it is.
    """

    file: Path
    message: str
    entry: str | None = None
    field: str | None = None
    template: str | None = None
    params: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(
        cls,
        file: Path,
        template: str,
        *,
        entry: str | None = None,
        field: str | None = None,
        **params: object,
    ) -> DataProblem:
        values = tuple((k, str(v)) for k, v in params.items())
        return cls(file, template.format(**dict(values)), entry, field, template, values)

    @classmethod
    def from_error(
        cls, file: Path, err: Any, *, entry: str | None = None, field: str | None = None
    ) -> DataProblem:
        """One pydantic error, worded for a person editing the YAML (not pydantic's words)."""
        from fieldkit.errortext import error_template

        template, params = error_template(err)
        return cls.of(file, template, entry=entry, field=field, **params)

    def text(self) -> str:
        """The message in the current language."""
        if self.template is not None:
            return _(self.template).format(**dict(self.params))
        return _(self.message)

    def describe(self) -> str:
        """File, entry, field and message, in the current language."""
        parts = [str(self.file)]
        if self.entry:
            parts.append(_("entry {entry}").format(entry=self.entry))
        if self.field:
            parts.append(_("field {field}").format(field=self.field))
        return _("{where}: {message}").format(where=", ".join(parts), message=self.text())

    def to_dict(self) -> dict[str, Any]:
        """For ``--json``: where, the English ``message`` and ``text`` in the current language."""
        return {
            "file": str(self.file),
            "entry": self.entry,
            "field": self.field,
            "message": self.message,
            "text": self.text(),
        }

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
        return None, [DataProblem.of(path, N_("not UTF-8 text (at byte {byte})"), byte=exc.start)]
    except OSError as exc:
        return None, [DataProblem.of(path, N_("cannot read: {error}"), error=exc.strerror or exc)]
    try:
        return yaml.load(text, Loader=_Loader), []
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        if mark is None:
            return None, [DataProblem.of(path, N_("YAML syntax error: {problem}"), problem=problem)]
        found = DataProblem.of(
            path,
            _yaml_hint(problem, getattr(exc, "context", None) or "", _char_at(text, mark)),
            line=mark.line + 1,
            column=mark.column + 1,
            problem=problem,
        )
        return None, [found]


# What libyaml / PyYAML say about the mistakes people make editing a table by hand → what
# to do, in the user's language (the parser's words stay in brackets for whoever knows YAML)
_HINT_KEY_VALUE = N_(
    "YAML syntax error at line {line}, column {column}: a 'key: value' cannot stand here; "
    "check the indentation, or put text that contains ': ' in quotes ({problem})"
)
_HINT_TAB = N_(
    "YAML syntax error at line {line}, column {column}: a tab character; indent with spaces "
    "only ({problem})"
)
_HINT_QUOTE = N_(
    "YAML syntax error at line {line}, column {column}: the file ends inside quotes; a "
    "closing quote is missing ({problem})"
)
_HINT_BRACKET = N_(
    "YAML syntax error at line {line}, column {column}: a bracket is not closed, or a comma "
    "is missing between its items ({problem})"
)
_HINT_INDENT = N_(
    "YAML syntax error at line {line}, column {column}: this line does not fit where it "
    "stands; check its indentation, and that nothing follows a closing quote ({problem})"
)
_HINT_SIGN = N_(
    "YAML syntax error at line {line}, column {column}: text starting with * & ! @ ` or % "
    "must be put in quotes ({problem})"
)


def _char_at(text: str, mark: Any) -> str:
    lines = text.splitlines()
    if 0 <= mark.line < len(lines) and 0 <= mark.column < len(lines[mark.line]):
        return lines[mark.line][mark.column]
    return ""


def _yaml_hint(problem: str, context: str, char: str) -> str:
    """The message template for one parser error (``char``: the character at its mark)."""
    if problem.startswith("mapping values are not allowed"):
        return _HINT_KEY_VALUE
    if "cannot start any token" in problem:
        return _HINT_TAB if char == "\t" else _HINT_SIGN
    if problem.startswith("found unexpected end of stream") and "quoted" in context:
        return _HINT_QUOTE
    if "expected ',' or " in problem:
        return _HINT_BRACKET
    if problem.startswith(("did not find expected key", "did not find expected '-'")):
        return _HINT_INDENT
    if problem.startswith("expected <block end>"):
        return _HINT_INDENT
    if "alias" in problem or "alphabetic or numeric" in problem or "directive" in problem:
        return _HINT_SIGN
    return N_("YAML syntax error at line {line}, column {column}: {problem}")


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
        problems.append(DataProblem.from_error(path, err, entry=entry, field=field or None))
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
        return [], [
            DataProblem.of(path, N_("must be a list (lines starting with '- ')"), field=list_field)
        ]
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


# ---------------------------------------------------------------- layered folders


def read_layered(
    folders: Iterable[Path], subfolder: str, problems: list[DataProblem]
) -> Iterator[tuple[Path, Any]]:
    """``(path, parsed YAML)`` of every file of ``folder/subfolder``, folders in order.

    The folder → YAML half of every layered loader (shipped data first, then the utility's
    folders, so later files override). A file that cannot be read or parsed adds its
    problem to ``problems`` and is skipped.
    """
    for folder in folders:
        for path in yaml_files(folder / subfolder):
            data, errs = read_yaml(path)
            problems.extend(errs)
            if not errs:
                yield path, data


def schema_problem(path: Path, data: Any, schema: str) -> DataProblem | None:
    """A problem when ``data`` is not a mapping whose ``schema`` is ``schema``."""
    if isinstance(data, dict) and data.get("schema") == schema:
        return None
    return DataProblem.of(path, N_("expected schema: {schema}"), field="schema", schema=schema)


# ---------------------------------------------------------------- the data kinds


@dataclass(frozen=True)
class DataKind:
    """One kind of table a utility edits: its folder under a data root and its checker.

    ``check`` is ``"module:function"``, imported only when used; the function takes the
    data folders (in load order) and returns ``(items loaded, problems)``.
    """

    key: str
    label: str
    check: str

    def run(self, folders: list[Path]) -> tuple[int, list[DataProblem]]:
        import importlib

        module_name, attr = self.check.split(":")
        checker = getattr(importlib.import_module(module_name), attr)
        count, problems = checker(folders)
        return int(count), list(problems)


# Every kind, in the order `fieldkit data check` reports them.
DATA_KINDS: tuple[DataKind, ...] = (
    DataKind("fault_codes", N_("fault codes"), "fieldkit.datakinds:check_fault_codes"),
    DataKind("tool_cards", N_("tool cards"), "fieldkit.datakinds:check_tool_cards"),
    DataKind("procedures", N_("procedures"), "fieldkit.datakinds:check_procedures"),
    DataKind("conduct", N_("service conduct"), "fieldkit.datakinds:check_conduct"),
    DataKind("diagnosis_rules", N_("diagnosis rules"), "fieldkit.datakinds:check_diagnosis_rules"),
    DataKind("card_layouts", N_("card layouts"), "fieldkit.datakinds:check_card_layouts"),
    DataKind("meter_profiles", N_("meter profiles"), "fieldkit.datakinds:check_meter_profiles"),
)


@dataclass(frozen=True)
class KindReport:
    kind: DataKind
    count: int
    problems: list[DataProblem]


def check_data(folders: list[Path]) -> list[KindReport]:
    """Check every kind of data in ``folders`` (shipped first, as at run time)."""
    reports = []
    for kind in DATA_KINDS:
        count, problems = kind.run(folders)
        reports.append(KindReport(kind, count, problems))
    return reports

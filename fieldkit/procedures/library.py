"""Loading the procedure files, shipped and the utility's own.

Shipped procedures live in ``<shipped data>/procedures``; every folder in ``FIELDKIT_DATA``
may hold a ``procedures`` folder whose files replace shipped procedures with the same id
(a utility sets its own test pressure or hold time that way). A broken file never takes
the others down: it becomes :class:`~fieldkit.datafiles.DataProblem` rows naming the file,
the step id and the field, and a broken override leaves the shipped procedure in place.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from fieldkit.datafiles import DataFileError, DataProblem, read_yaml, yaml_files
from fieldkit.i18n import N_, _
from fieldkit.paths import data_dirs
from fieldkit.procedures.models import CheckStep, Procedure

SUBDIR = "procedures"
_STEP_KINDS = {"instruction", "check", "measurement", "timer", "capture", "sign_off"}


def default_dirs() -> list[Path]:
    """Shipped procedures first, then each ``FIELDKIT_DATA`` folder (later ones win)."""
    return [d / SUBDIR for d in data_dirs()]


def _step_label(raw: Any, index: int) -> str:
    if isinstance(raw, dict) and isinstance(raw.get("id"), str):
        return f"step {raw['id']}"
    return f"step #{index + 1}"


def _problems_from(path: Path, data: Any, exc: ValidationError) -> list[DataProblem]:
    """One problem per pydantic error, naming the step (by id) and the field inside it."""
    steps = data.get("steps") if isinstance(data, dict) else None
    proc_id = data.get("id") if isinstance(data, dict) else None
    problems = []
    for err in exc.errors():
        loc = list(err["loc"])
        entry = proc_id if isinstance(proc_id, str) else None
        if len(loc) >= 2 and loc[0] == "steps" and isinstance(loc[1], int):
            index = loc[1]
            raw = steps[index] if isinstance(steps, list) and index < len(steps) else None
            entry = _step_label(raw, index)
            rest = loc[2:]
            if rest and rest[0] in _STEP_KINDS:  # the discriminator's tag, not a field
                rest = rest[1:]
            field = ".".join(str(p) for p in rest) or None
        else:
            field = ".".join(str(p) for p in loc) or None
        message = err["msg"]
        if loc and loc[0] == "override":
            message = (
                f"{message} — an override needs approved_by (who signed it off), "
                "standard (which rule it follows) and approved_on (YYYY-MM-DD)"
            )
        elif err["type"] == "extra_forbidden":
            message = "unknown field (check its spelling)"
        elif err["type"] == "missing":
            message = "required field is missing"
        elif err["type"] == "union_tag_invalid":
            message = f"unknown step kind; use one of {', '.join(sorted(_STEP_KINDS))}"
        elif err["type"] == "union_tag_not_found":
            message = "a step needs 'kind'"
        if message == err["msg"]:  # pydantic's own words: reworded for the YAML's editor
            problems.append(DataProblem.from_error(path, err, entry=entry, field=field))
        else:
            problems.append(DataProblem(path, message, entry=entry, field=field))
    return problems


def check_procedure(procedure: Procedure, path: Path) -> list[DataProblem]:
    """Cross-references inside one procedure: step ids, gate targets, conditions, facts."""
    problems: list[DataProblem] = []
    seen: dict[str, int] = {}
    for index, step in enumerate(procedure.steps):
        where = f"step {step.id}"
        if step.id in seen:
            problems.append(DataProblem(path, "duplicate step id", entry=where, field="id"))
            continue
        seen[step.id] = index
        gate = getattr(step, "on_fail", None)
        if gate is not None and gate.retry_from is not None:
            target = seen.get(gate.retry_from)
            if target is None:
                problems.append(
                    DataProblem.of(
                        path,
                        N_("no earlier step '{step}' to retry from"),
                        entry=where,
                        field="on_fail.retry_from",
                        step=gate.retry_from,
                    )
                )
        if step.applies_if is not None:
            target = seen.get(step.applies_if.step)
            if target is None or not isinstance(procedure.steps[target], CheckStep):
                problems.append(
                    DataProblem.of(
                        path,
                        N_("no earlier check step '{step}'"),
                        entry=where,
                        field="applies_if.step",
                        step=step.applies_if.step,
                    )
                )
    return problems


def check_library(procedures: dict[str, Procedure], origins: dict[str, Path]) -> list[DataProblem]:
    """Every required fact is established by some measurement step in the library."""
    known: set[str] = set()
    for procedure in procedures.values():
        known |= procedure.established_facts
    problems: list[DataProblem] = []
    for proc_id, procedure in procedures.items():
        for step in procedure.steps:
            for index, fact in enumerate(step.requires):
                if fact not in known:
                    problems.append(
                        DataProblem.of(
                            origins[proc_id],
                            N_("no measurement step in any procedure establishes '{fact}'"),
                            entry=f"step {step.id}",
                            field=f"requires[{index}]",
                            fact=fact,
                        )
                    )
    return problems


def check_see_also(
    procedures: dict[str, Procedure],
    resolves: Callable[[str], bool],
    origins: dict[str, Path] | None = None,
) -> list[DataProblem]:
    """Fault-table references (``see_also``) that do not resolve.

    ``resolves`` is e.g. ``fieldkit.diagnostics.catalog.load_catalog().resolves``; it is
    passed in so this package does not depend on the fault tables.
    """
    problems: list[DataProblem] = []
    for proc_id, procedure in procedures.items():
        path = (origins or {}).get(proc_id, Path(f"{proc_id}.yaml"))
        for step in procedure.steps:
            refs: list[tuple[str, str]] = []
            if isinstance(step, CheckStep):
                refs += [(f"see_also[{i}]", r) for i, r in enumerate(step.see_also)]
                if step.finding is not None:
                    refs += [
                        (f"finding.see_also[{i}]", r) for i, r in enumerate(step.finding.see_also)
                    ]
            for field, ref in refs:
                if not resolves(ref):
                    problems.append(
                        DataProblem.of(
                            path,
                            N_("'{ref}' is not an entry of the fault tables"),
                            entry=f"step {step.id}",
                            field=field,
                            ref=ref,
                        )
                    )
    return problems


def load_file(path: Path) -> tuple[Procedure | None, list[DataProblem]]:
    data, problems = read_yaml(path)
    if problems:
        return None, problems
    if not isinstance(data, dict):
        return None, [DataProblem(path, "a procedure file must be a mapping")]
    try:
        procedure = Procedure.model_validate(data)
    except ValidationError as exc:
        return None, _problems_from(path, data, exc)
    problems = check_procedure(procedure, path)
    if problems:
        return None, problems
    from fieldkit.safety.floors import OVERRIDE_HINT, check_floors

    if procedure.override is None:
        breaches = check_floors(procedure)
        if breaches:
            return None, [
                DataProblem(
                    path,
                    f"below the safety floor: {b.message}; {OVERRIDE_HINT}",  # English
                    entry=b.entry,
                    field=b.field,
                    template=N_("below the safety floor: {breach}; {hint}"),
                    params=(("breach", b.text()), ("hint", _(OVERRIDE_HINT))),
                )
                for b in breaches
            ]
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        return None, [DataProblem(path, f"cannot read: {exc.strerror or exc}")]
    return procedure.with_content_hash(digest), []


def load_procedures(
    dirs: list[Path] | None = None,
) -> tuple[dict[str, Procedure], list[DataProblem]]:
    """All procedures by id, and every problem found. Later folders override earlier ones."""
    folders = default_dirs() if dirs is None else dirs
    procedures: dict[str, Procedure] = {}
    origins: dict[str, Path] = {}
    problems: list[DataProblem] = []
    for folder in folders:
        in_this_folder: dict[str, Path] = {}
        for path in yaml_files(folder):
            procedure, errs = load_file(path)
            problems.extend(errs)
            if procedure is None:
                continue
            if procedure.id in in_this_folder:
                problems.append(
                    DataProblem(
                        path,
                        f"procedure id {procedure.id!r} is also defined in "
                        f"{in_this_folder[procedure.id].name}",
                        entry=procedure.id,
                        field="id",
                    )
                )
                continue
            in_this_folder[procedure.id] = path
            procedures[procedure.id] = procedure
            origins[procedure.id] = path
    problems.extend(check_library(procedures, origins))
    return procedures, problems


def load_procedures_strict(dirs: list[Path] | None = None) -> dict[str, Procedure]:
    """Like :func:`load_procedures` but raises :class:`DataFileError` on any problem."""
    procedures, problems = load_procedures(dirs)
    if problems:
        raise DataFileError(problems)
    return procedures

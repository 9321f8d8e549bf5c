"""The checkers of :data:`fieldkit.datafiles.DATA_KINDS`: each loads one kind of table
from the data folders with that kind's own loader and returns ``(count, problems)``.

Each checker is a thin adapter; the loading itself stays in the kind's package
(``diagnostics``, ``cards``, ``procedures``, ``devices``, ``conduct``).
"""

from __future__ import annotations

from pathlib import Path

from fieldkit.datafiles import DataProblem, read_yaml


def check_fault_codes(folders: list[Path]) -> tuple[int, list[DataProblem]]:
    """Fault tables, with every cross-reference (see_also) resolved as at run time."""
    from fieldkit.diagnostics.catalog import load_catalog_from

    catalog = load_catalog_from(folders)
    card_problems = {id(p) for p in catalog.cards.problems}
    return len(catalog.entries()), [p for p in catalog.problems if id(p) not in card_problems]


def check_tool_cards(folders: list[Path]) -> tuple[int, list[DataProblem]]:
    from fieldkit.cards.catalog import load_tool_cards_from

    cards = load_tool_cards_from(folders)
    return len(cards.cards()), list(cards.problems)


def check_procedures(folders: list[Path]) -> tuple[int, list[DataProblem]]:
    from fieldkit.procedures import load_procedures

    procedures, problems = load_procedures([f / "procedures" for f in folders])
    return len(procedures), list(problems)


def check_conduct(folders: list[Path]) -> tuple[int, list[DataProblem]]:
    from fieldkit.conduct import CONDUCT_DIR, CONDUCT_FILE, parse_conduct

    checked = 0
    problems: list[DataProblem] = []
    for folder in folders:
        path = folder / CONDUCT_DIR / CONDUCT_FILE
        if not path.is_file():
            continue
        checked += 1
        raw, found = read_yaml(path)
        if not found:
            _conduct, found = parse_conduct(path, raw)
        problems.extend(found)
    return checked, problems


def check_diagnosis_rules(folders: list[Path]) -> tuple[int, list[DataProblem]]:
    from fieldkit.diagnostics.rules import load_rules

    rules = load_rules(folders)
    return len(rules.rules), list(rules.problems)


def check_card_layouts(folders: list[Path]) -> tuple[int, list[DataProblem]]:
    from fieldkit.cards.layouts import load_layouts

    layouts = load_layouts(folders)
    return len(layouts.layouts), list(layouts.problems)


def check_meter_profiles(folders: list[Path]) -> tuple[int, list[DataProblem]]:
    from fieldkit.devices.profiles import load_profiles

    profiles = load_profiles(folders)
    return len(profiles.profiles), list(profiles.problems)

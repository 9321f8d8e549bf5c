"""Every user-facing string of the records area has a Simplified Chinese translation."""

from __future__ import annotations

import ast
from pathlib import Path

from fieldkit.i18n import locale_dir, parse_po
from fieldkit.records import handover

ROOT = Path(__file__).resolve().parents[2]
FILES = [
    "fieldkit/records/db.py",
    "fieldkit/records/repo.py",
    "fieldkit/records/closing.py",
    "fieldkit/records/handover.py",
    "fieldkit/cli/records.py",
]


def _msgids() -> set[str]:
    found: set[str] = set()
    for name in FILES:
        tree = ast.parse((ROOT / name).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("_", "N_")
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                found.add(node.args[0].value)
    for labels in (
        handover.VISIT_TYPE_LABELS,
        handover.OUTCOME_LABELS,
        handover.LEVEL_LABELS,
        handover.STATUS_LABELS,
    ):
        found.update(labels.values())
    return found


def test_every_records_string_is_translated() -> None:
    catalog = parse_po(locale_dir() / "zh_CN" / "LC_MESSAGES" / "records.po")
    msgids = _msgids()
    assert len(msgids) > 50
    missing = sorted(m for m in msgids if m not in catalog)
    assert missing == []


def test_placeholders_survive_translation() -> None:
    import string

    catalog = parse_po(locale_dir() / "zh_CN" / "LC_MESSAGES" / "records.po")

    def fields(text: str) -> set[str]:
        return {f for _, f, _, _ in string.Formatter().parse(text) if f}

    for msgid, msgstr in catalog.items():
        assert fields(msgid) == fields(msgstr), msgid

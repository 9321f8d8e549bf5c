"""Every user-facing string of the records area has a Simplified Chinese translation."""

from __future__ import annotations

from pathlib import Path

from fieldkit.i18n import locale_dir, parse_po, placeholders, source_msgids
from fieldkit.records import handover

ROOT = Path(__file__).resolve().parents[2]
FILES = [
    "fieldkit/records/db.py",
    "fieldkit/records/repo.py",
    "fieldkit/records/closing.py",
    "fieldkit/records/handover.py",
    "fieldkit/records/handover_pdf.py",
    "fieldkit/cli/records.py",
]


def _msgids() -> set[str]:
    found: set[str] = set()
    for name in FILES:
        found.update(source_msgids(ROOT / name))
    for labels in (
        handover.VISIT_TYPE_LABELS,
        handover.OUTCOME_LABELS,
        handover.LEVEL_LABELS,
        handover.STATUS_LABELS,
        handover.VERDICT_LABELS,
        handover.ANSWER_LABELS,
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
    catalog = parse_po(locale_dir() / "zh_CN" / "LC_MESSAGES" / "records.po")
    for msgid, msgstr in catalog.items():
        assert placeholders(msgstr) == placeholders(msgid), msgid

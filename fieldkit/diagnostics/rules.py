"""From what a meter and a card said to the manual's fault entries (UI-free).

The *checks* are code (a small table of named predicates over :class:`DeviceState`);
everything a utility would edit — which entries each finding links to per device, its
severity, title and explanation, and the manual section it comes from — is data in
``data/diagnosis_rules/*.yaml``::

    schema: fieldkit.diagnosis_rules/1
    rules:
      - id: low-battery-valve-closed
        check: low_battery_valve_closed
        severity: warning
        title: {zh: 低电关阀, en: Valve closed on low battery}
        explanation: {zh: …, en: …}
        entries: {meihua-ic: [meihua-ic.06, meihua-ic.02], …}
        source: {kind: manual, section: 灶具常见打不着火常见故障处理, page: 6}

Usage::

    state = DeviceState.from_readings(meter=reading.metering, card=decoded, device="meihua-ic")
    diagnosis = diagnose(state)
    for finding in diagnosis.findings: …   # title, explanation, entry_ids, card_ids, evidence
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from fieldkit import paths
from fieldkit.datafiles import (
    DataFileError,
    DataProblem,
    find_by_id,
    load_entries,
    read_layered,
    schema_problem,
)
from fieldkit.diagnostics.models import Severity
from fieldkit.textmodel import Source, Strict, Text

FOLDER = "diagnosis_rules"

CheckName = Literal[
    "low_battery_valve_closed",
    "low_battery",
    "valve_closed",
    "valve_abnormal",
    "purchase_count_not_greater",
    "card_number_mismatch",
    "tool_card_presented",
    "unknown_card_layout",
    "example_card_layout",
]


# ---------------------------------------------------------------- input


@dataclass(frozen=True)
class DeviceState:
    """What is known about the meter in front of the technician. ``None`` = not known."""

    device: str | None = None  # fault-table device key: meihua-ic, meihua-mhcg, qianfeng-ic
    valve: str | None = None  # open / closed / abnormal / unknown (from the ST word)
    low_battery: bool | None = None
    status_raw: str | None = None
    card_read: bool = False
    card_layout: str | None = None
    card_layout_is_example: bool = False
    card_kind: str | None = None  # user / new_user / tool / gas / unknown
    card_number: str | None = None
    card_purchase_count: int | None = None
    tool_card_id: str | None = None
    meter_card_number: str | None = None  # the customer/card number this meter belongs to
    meter_purchase_count: int | None = None  # 表内购气次数 (from a check card or the hall)

    @classmethod
    def from_readings(
        cls,
        *,
        meter: Any = None,
        card: Any = None,
        device: str | None = None,
        meter_card_number: str | None = None,
        meter_purchase_count: int | None = None,
    ) -> DeviceState:
        """Build from a :class:`~fieldkit.devices.cjt188.MeteringData` and a
        :class:`~fieldkit.cards.layouts.DecodedCard` (either may be None)."""
        values: dict[str, Any] = {
            "device": device,
            "meter_card_number": meter_card_number,
            "meter_purchase_count": meter_purchase_count,
        }
        if meter is not None:
            status = meter.status
            values |= {
                "valve": str(status.valve.value),
                "low_battery": bool(status.low_battery),
                "status_raw": status.raw.hex(" ").upper(),
            }
        if card is not None:
            count = card.get("purchase_count")
            number = card.get("card_number")
            values |= {
                "card_read": True,
                "card_layout": card.layout.id if card.layout else None,
                "card_layout_is_example": bool(card.layout and card.layout.example),
                "card_kind": card.kind.value,
                "card_number": None if number is None else str(number),
                "card_purchase_count": None if count is None else int(count),
                "tool_card_id": card.tool_card_id,
            }
        return cls(**values)


# ---------------------------------------------------------------- output


@dataclass(frozen=True)
class Finding:
    rule_id: str
    severity: Severity
    title: Text
    explanation: Text
    entry_ids: list[str] = field(default_factory=list)
    card_ids: list[str] = field(default_factory=list)
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id,
            "severity": self.severity.value,
            "title": self.title.model_dump(),
            "explanation": self.explanation.model_dump(),
            "entry_ids": list(self.entry_ids),
            "card_ids": list(self.card_ids),
            "evidence": dict(self.evidence),
        }


@dataclass(frozen=True)
class Diagnosis:
    findings: list[Finding]
    # Problems of the rule files (a broken file must not pass silently as "no findings").
    problems: list[DataProblem] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.findings)

    def entry_ids(self) -> list[str]:
        seen: dict[str, None] = {}
        for f in self.findings:
            for e in f.entry_ids:
                seen[e] = None
        return list(seen)

    def to_dict(self) -> dict[str, Any]:
        # a broken rule file is said, not hidden behind "no findings"
        return {
            "findings": [f.to_dict() for f in self.findings],
            "problems": [p.to_dict() for p in self.problems],
        }


# ---------------------------------------------------------------- rule data


class StateRule(Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    check: CheckName
    severity: Severity
    title: Text
    explanation: Text
    entries: dict[str, list[str]] = Field(
        default_factory=dict, description="device key → fault entry ids to link"
    )
    cards: list[str] = Field(default_factory=list, description="tool-card ids to link")
    display_words: list[str] = Field(
        default_factory=list,
        description="also link this device's entries whose display shows all of these words",
    )
    source: Source


class RuleFile(Strict):
    schema_: Literal["fieldkit.diagnosis_rules/1"] = Field(alias="schema")
    rules: list[Any] = Field(default_factory=list)


@dataclass
class RuleSet:
    rules: list[StateRule]
    problems: list[DataProblem]

    def rule(self, rule_id: str) -> StateRule:
        return find_by_id(self.rules, rule_id)


def load_rules(folders: list[Path] | None = None, *, strict: bool = False) -> RuleSet:
    if folders is None:
        folders = paths.data_dirs()
    by_id: dict[str, StateRule] = {}
    problems: list[DataProblem] = []
    for path, data in read_layered(folders, FOLDER, problems):
        wrong_schema = schema_problem(path, data, "fieldkit.diagnosis_rules/1")
        if wrong_schema is not None:
            problems.append(wrong_schema)
            continue
        rules, errs = load_entries(path, data.get("rules"), StateRule, "rules")
        problems.extend(errs)
        for rule in rules:
            by_id[rule.id] = rule
    if strict and problems:
        raise DataFileError(problems)
    return RuleSet(list(by_id.values()), problems)


# ---------------------------------------------------------------- checks (code)

Check = Callable[[DeviceState], dict[str, Any] | None]


def _low_battery_valve_closed(s: DeviceState) -> dict[str, Any] | None:
    if s.low_battery and s.valve == "closed":
        return {"valve": s.valve, "low_battery": True, "status": s.status_raw}
    return None


def _low_battery(s: DeviceState) -> dict[str, Any] | None:
    if s.low_battery and s.valve != "closed":
        return {"valve": s.valve, "low_battery": True, "status": s.status_raw}
    return None


def _valve_closed(s: DeviceState) -> dict[str, Any] | None:
    if s.valve == "closed" and s.low_battery is False:
        return {"valve": s.valve, "low_battery": False, "status": s.status_raw}
    return None


def _valve_abnormal(s: DeviceState) -> dict[str, Any] | None:
    if s.valve == "abnormal":
        return {"valve": s.valve, "status": s.status_raw}
    return None


def _purchase_count(s: DeviceState) -> dict[str, Any] | None:
    if (
        s.card_kind == "user"
        and s.card_purchase_count is not None
        and s.meter_purchase_count is not None
        and s.card_purchase_count <= s.meter_purchase_count
    ):
        return {
            "card_purchase_count": s.card_purchase_count,
            "meter_purchase_count": s.meter_purchase_count,
        }
    return None


def _normalise_number(number: str) -> str:
    digits = "".join(ch for ch in number if ch.isalnum())
    return digits.lstrip("0") or "0"


def _card_number_mismatch(s: DeviceState) -> dict[str, Any] | None:
    if (
        s.card_kind in ("user", "new_user")
        and s.card_number
        and s.meter_card_number
        and _normalise_number(s.card_number) != _normalise_number(s.meter_card_number)
    ):
        return {"card_number": s.card_number, "meter_card_number": s.meter_card_number}
    return None


def _tool_card(s: DeviceState) -> dict[str, Any] | None:
    if s.card_kind == "tool":
        return {"tool_card": s.tool_card_id, "card_layout": s.card_layout}
    return None


def _unknown_layout(s: DeviceState) -> dict[str, Any] | None:
    if s.card_read and s.card_layout is None:
        return {"card_layout": None}
    return None


def _example_layout(s: DeviceState) -> dict[str, Any] | None:
    if s.card_read and s.card_layout and s.card_layout_is_example:
        return {"card_layout": s.card_layout}
    return None


CHECKS: dict[str, Check] = {
    "low_battery_valve_closed": _low_battery_valve_closed,
    "low_battery": _low_battery,
    "valve_closed": _valve_closed,
    "valve_abnormal": _valve_abnormal,
    "purchase_count_not_greater": _purchase_count,
    "card_number_mismatch": _card_number_mismatch,
    "tool_card_presented": _tool_card,
    "unknown_card_layout": _unknown_layout,
    "example_card_layout": _example_layout,
}

_SEVERITY_ORDER = {Severity.DANGER: 0, Severity.WARNING: 1, Severity.INFO: 2}


def _entries_for(rule: StateRule, device: str | None) -> list[str]:
    if device is None:
        return [e for ids in rule.entries.values() for e in ids]
    found = list(rule.entries.get(device, []))
    if rule.display_words:
        for entry_id in _entries_with_display(device, tuple(rule.display_words)):
            if entry_id not in found:
                found.append(entry_id)
    return found


def _entries_with_display(device: str, words: tuple[str, ...]) -> list[str]:
    """Entries of the device's fault table whose display shows every one of ``words``
    (fault catalog imported lazily; an unknown device or a missing catalog gives none)."""
    try:
        from fieldkit.diagnostics.catalog import default_catalog

        return [e.id for e in default_catalog().entries_with_display(device, list(words))]
    except Exception:  # the catalog is optional here; the rule's own entries still show
        return []


def _tool_card_text(card_id: str) -> tuple[Text, Text] | None:
    """Title and explanation from the tool-card catalog (imported lazily; None if absent)."""
    try:
        from fieldkit.cards.catalog import load_tool_cards

        catalog = load_tool_cards()
        card = catalog.card(card_id)
        family = catalog.family_of(card).key
    except Exception:  # catalog not installed or card unknown: fall back to the rule text
        return None

    def state_names(keys: list[str]) -> tuple[str, str]:
        states = [catalog.state(family, key) for key in keys]
        zh = "、".join(st.name.zh if st else key for st, key in zip(states, keys, strict=True))
        en = ", ".join(st.name.en if st else key for st, key in zip(states, keys, strict=True))
        return zh, en

    zh = [card.purpose.zh]
    en = [card.purpose.en]
    for mode in card.modes:
        zh.append(mode.effect.zh)
        en.append(mode.effect.en)
        if mode.requires_state:
            need_zh, need_en = state_names(mode.requires_state)
            zh.append(f"仅用于:{need_zh}")
            en.append(f"Only for a meter in: {need_en}")
        if mode.result_state:
            after_zh, after_en = state_names([mode.result_state])
            zh.append(f"用后表处于:{after_zh}")
            en.append(f"Leaves the meter in: {after_en}")
    if card.destroys is not None:
        zh.append(card.destroys.zh)
        en.append(card.destroys.en)
    title = Text(zh=f"工具卡:{card.name.zh}", en=f"Tool card: {card.name.en}")
    return title, Text(zh="\n".join(zh), en="\n".join(en))


def diagnose(state: DeviceState, rules: RuleSet | None = None) -> Diagnosis:
    """Apply every rule to ``state``; findings are ordered most severe first."""
    rules = rules or load_rules()
    findings: list[Finding] = []
    for rule in rules.rules:
        evidence = CHECKS[rule.check](state)
        if evidence is None:
            continue
        title, explanation = rule.title, rule.explanation
        cards = list(rule.cards)
        if rule.check == "tool_card_presented" and state.tool_card_id:
            cards = [state.tool_card_id, *cards]
            text = _tool_card_text(state.tool_card_id)
            if text is not None:
                title = text[0]
                explanation = Text(
                    zh=text[1].zh + "\n" + rule.explanation.zh,
                    en=text[1].en + "\n" + rule.explanation.en,
                )
        findings.append(
            Finding(
                rule_id=rule.id,
                severity=rule.severity,
                title=title,
                explanation=explanation,
                entry_ids=_entries_for(rule, state.device),
                card_ids=cards,
                evidence=evidence,
            )
        )
    findings.sort(key=lambda f: _SEVERITY_ORDER[f.severity])
    return Diagnosis(findings, list(rules.problems))

"""Typed shape of a tool-card family (``data/tool_cards/<family>.yaml``).

A tool card (工具卡) is a special IC card a technician inserts into a meter. Each card says
what it does, which meter state it may be used in, what state it leaves the meter in, and
what it destroys or requires afterwards — the technician reads this *before* inserting it.

Example (abridged)::

    schema: fieldkit.tool_cards/1
    family:
      key: qianfeng
      brand: {zh: 前锋, en: Qianfeng}
      name: {zh: 前锋工具卡, en: Qianfeng tool cards}
    source: {kind: manual, section: 前锋工具卡使用说明, page: 18}
    meter_states:
      - {key: production, name: {zh: 生产状态, en: production state}}
      - {key: initialised, name: {zh: 初始化状态, en: initialised state}}
      - {key: working, name: {zh: 工作状态, en: working state}}
    cards:
      - id: qianfeng.recovery-transfer
        number: 6
        name: {zh: 回收转移卡, en: recovery/transfer card}
        purpose: {zh: ..., en: ...}
        modes:
          - id: recovery
            name: {zh: 回收状态, en: recovery mode}
            requires_state: [working]
            result_state: initialised
            effect: {zh: 所有信息回收到卡上, en: ...}
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from fieldkit.textmodel import AsWritten, Source, Strict, Text, check_as_written

FAMILY_KEY = r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$"
CARD_ID = r"^[a-z][a-z0-9-]*\.[a-z0-9][a-z0-9-]*$"
STATE_KEY = r"^[a-z][a-z0-9_]*$"


class MeterState(Strict):
    key: str = Field(pattern=STATE_KEY)
    name: Text


class CardMode(Strict):
    """What the card does to a meter in one mode (most cards have exactly one)."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    name: Text | None = None
    requires_state: list[str] = Field(
        default_factory=list, description="meter states the card may be used in; empty = any"
    )
    result_state: str | None = Field(default=None, description="state afterwards; None = unchanged")
    effect: Text
    clears: list[Literal["gas", "password", "card_number", "purchase_count", "faults", "all"]] = (
        Field(default_factory=list, description="what the card wipes from the meter")
    )
    gas_after: float | None = Field(
        default=None, description="gas (m³) left in the meter afterwards"
    )


class ToolCard(Strict):
    id: str = Field(pattern=CARD_ID)
    number: int | None = Field(default=None, ge=1, description="item number in the manual")
    name: Text
    aliases: list[str] = Field(default_factory=list, description="other names, e.g. 清零卡, 超级卡")
    purpose: Text = Field(description="what the card does, as the manual says")
    modes: list[CardMode] = Field(min_length=1)
    destroys: Text | None = Field(
        default=None, description="what using it destroys, and what must happen afterwards"
    )
    restrictions: Text | None = Field(default=None, description="e.g. only G6 and below")
    resolves_codes: list[str] = Field(
        default_factory=list, description="fault codes it clears that the fault tables hold"
    )
    resolves_as_stated: Text | None = Field(
        default=None,
        description="the codes as the manual words them (ERR-1到ERR-7); zh must be in purpose",
    )
    reusable: bool | None = None
    as_written: list[AsWritten] = Field(
        default_factory=list,
        description="原文如此: words the manual prints with a typo or unclear, explained",
    )
    see_also: list[str] = Field(default_factory=list)
    source: Source | None = None

    @model_validator(mode="after")
    def _check(self) -> ToolCard:
        if (
            self.resolves_as_stated is not None
            and self.resolves_as_stated.zh not in self.purpose.zh
        ):
            raise ValueError(
                f"resolves_as_stated {self.resolves_as_stated.zh!r} is not in the card's purpose"
            )
        check_as_written(self.as_written, self)
        return self


class Rule(Strict):
    """A family-level rule, e.g. 开户卡 only in new meters; purchase count must be greater."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: Text
    text: Text
    see_also: list[str] = Field(default_factory=list)


class CardFamily(Strict):
    key: str = Field(pattern=FAMILY_KEY)
    brand: Text
    name: Text
    devices: list[str] = Field(default_factory=list, description="fault-table device keys served")


class ToolCardTable(Strict):
    schema_: Literal["fieldkit.tool_cards/1"] = Field(alias="schema")
    family: CardFamily
    source: Source
    meter_states: list[MeterState] = Field(default_factory=list)
    rules: list[Rule] = Field(default_factory=list)
    cards: list[ToolCard] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> ToolCardTable:
        states = {s.key for s in self.meter_states}
        prefix = self.family.key + "."
        for card in self.cards:
            if not card.id.startswith(prefix):
                raise ValueError(f"card id {card.id!r} must start with {prefix!r}")
            for mode in card.modes:
                for state in [
                    *mode.requires_state,
                    *([mode.result_state] if mode.result_state else []),
                ]:
                    if state not in states:
                        raise ValueError(
                            f"card {card.id} mode {mode.id}: state {state!r} is not in meter_states"
                        )
        return self

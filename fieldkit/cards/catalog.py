"""The tool-card reference: every family's cards, states and rules, loaded and queryable.

``load_tool_cards()`` reads ``data/tool_cards/*.yaml`` and then each ``FIELDKIT_DATA``
folder (same layering as the fault catalog: a file with the same family key replaces the
shipped one, a new key adds a family). ``CardCatalog.find("清零卡")`` answers by card id,
Chinese name, English name or alias; the same name can belong to cards of different
families (美华's 初始化卡 is also called 清零卡, and 前锋 has its own 清零卡 that does
something else), so ``find`` returns every card that answers to it, each with its family.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel

from fieldkit import paths
from fieldkit.cards.models import CardFamily, MeterState, ToolCard, ToolCardTable
from fieldkit.datafiles import DataProblem
from fieldkit.diagnostics.tables import TableSource, load_layered, load_table_file

SCHEMA = "fieldkit.tool_cards/1"


class UnknownCard(KeyError):
    """No card or family with that id/key."""


def _check_card(path: Path, table: ToolCardTable, item: BaseModel, index: int) -> list[DataProblem]:
    """The table-level checks, per card: id prefix, and states known to the family."""
    assert isinstance(item, ToolCard)
    problems: list[DataProblem] = []
    prefix = table.family.key + "."
    if not item.id.startswith(prefix):
        problems.append(
            DataProblem(
                path,
                f"card id must start with {prefix!r} (the family key)",
                entry=item.id,
                field=f"cards[{index}].id",
            )
        )
    states = {s.key for s in table.meter_states}
    for m, mode in enumerate(item.modes):
        for name, values in (
            ("requires_state", mode.requires_state),
            ("result_state", [mode.result_state] if mode.result_state else []),
        ):
            for state in values:
                if state not in states:
                    problems.append(
                        DataProblem(
                            path,
                            f"state {state!r} is not one of the family's meter_states "
                            f"({', '.join(sorted(states)) or 'none defined'})",
                            entry=item.id,
                            field=f"cards[{index}].modes[{m}].{name}",
                        )
                    )
    return problems


def load_card_file(path: Path) -> tuple[ToolCardTable | None, list[DataProblem]]:
    """One ``tool_cards`` file, card by card (a bad card costs only itself)."""

    def check(table: ToolCardTable, item: BaseModel, index: int) -> list[DataProblem]:
        return _check_card(path, table, item, index)

    return load_table_file(path, ToolCardTable, ToolCard, "cards", check)


def _fold(text: str) -> str:
    """Comparison form of a card name: NFKC, lower case, no spaces, dashes or brackets."""
    text = unicodedata.normalize("NFKC", text).lower()
    return "".join(ch for ch in text if ch.isalnum() or ch == ".")


@dataclass
class CardCatalog:
    """Tool-card families keyed by family key, in load order."""

    tables: dict[str, ToolCardTable] = field(default_factory=dict)
    paths: dict[str, Path] = field(default_factory=dict)
    sources: list[TableSource] = field(default_factory=list)
    problems: list[DataProblem] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._cards: dict[str, ToolCard] = {}
        self._family_of: dict[str, str] = {}
        for key, table in self.tables.items():
            for card in table.cards:
                if card.id in self._cards:
                    self.problems.append(
                        DataProblem(
                            self.paths.get(key, Path(key)),
                            "duplicate card id (the first one is kept)",
                            entry=card.id,
                            field="id",
                        )
                    )
                    continue
                self._cards[card.id] = card
                self._family_of[card.id] = key

    def families(self) -> list[ToolCardTable]:
        """Every family's table (family, meter_states, rules, cards)."""
        return list(self.tables.values())

    def family(self, key: str) -> ToolCardTable:
        try:
            return self.tables[key.strip().lower()]
        except KeyError:
            raise UnknownCard(key) from None

    def family_keys(self) -> list[str]:
        return list(self.tables)

    def cards(self) -> list[ToolCard]:
        return list(self._cards.values())

    def card(self, card_id: str) -> ToolCard:
        try:
            return self._cards[card_id]
        except KeyError:
            raise UnknownCard(card_id) from None

    def family_of(self, card: ToolCard | str) -> CardFamily:
        card_id = card if isinstance(card, str) else card.id
        return self.tables[self._family_of[card_id]].family

    def table_of(self, card: ToolCard | str) -> ToolCardTable:
        card_id = card if isinstance(card, str) else card.id
        return self.tables[self._family_of[card_id]]

    def state(self, family_key: str, state_key: str) -> MeterState | None:
        for state in self.tables[family_key].meter_states:
            if state.key == state_key:
                return state
        return None

    def has_id(self, ref: str) -> bool:
        """True for a card id or a family rule written ``<family>.<rule id>``."""
        if ref in self._cards:
            return True
        family, _, rule = ref.partition(".")
        table = self.tables.get(family)
        return table is not None and any(r.id == rule for r in table.rules)

    def find(self, query: str) -> list[ToolCard]:
        """Cards answering to ``query``: id, Chinese or English name, or alias.

        Exact answers (after folding case, width and spaces) come first; if there are
        none, cards whose name or alias contains the query. Empty list when nothing fits.
        """
        wanted = _fold(query)
        if not wanted:
            return []
        exact: list[ToolCard] = []
        partial: list[ToolCard] = []
        for card in self._cards.values():
            names = [card.id, card.name.zh, card.name.en, *card.aliases]
            folded = [_fold(n) for n in names]
            if wanted in folded or wanted + "卡" in folded or wanted + "card" in folded:
                exact.append(card)
            elif len(wanted) >= 2 and any(wanted in f for f in folded):
                partial.append(card)
        return exact or partial


def load_tool_cards(extra_dirs: list[Path] | None = None) -> CardCatalog:
    """Shipped ``data/tool_cards`` then ``extra_dirs`` (default: ``FIELDKIT_DATA``)."""
    return load_tool_cards_from(paths.data_dirs(extra_dirs))


def load_tool_cards_from(folders: list[Path]) -> CardCatalog:
    """Exactly these data folders, in order (each a data root or a flat folder of tables)."""
    loaded, sources, problems = load_layered(
        folders, "tool_cards", SCHEMA, "tool_cards", load_card_file, lambda t: t.family.key
    )
    return CardCatalog(
        tables={k: v.table for k, v in loaded.items()},
        paths={k: v.path for k, v in loaded.items()},
        sources=sources,
        problems=problems,
    )

"""The fault catalog: every device's fault table, loaded, checked and queryable.

::

    from fieldkit.diagnostics.catalog import default_catalog

    catalog = default_catalog()
    result = catalog.lookup_code("err1")               # ERR-1 on every device that has it
    result = catalog.lookup_code("ERR-1", device="meihua-ic")
    hits = catalog.search("不显示")                     # ranked SearchHit(entry, score, matched_on)
    entries = catalog.entries_with_display("meihua-mhcg", ["关阀", "故障"])

Tables come from the shipped ``data/fault_codes`` and then every ``FIELDKIT_DATA`` folder
(its ``fault_codes/`` subfolder, or the folder itself): a table whose device key is already
loaded replaces it (``catalog.sources`` says so), a new key adds a device. Tool cards load
the same way (:mod:`fieldkit.cards.catalog`), because fault entries refer to them.

Nothing here raises on bad data: each problem becomes one :class:`DataProblem` in
``catalog.problems`` naming the file, entry id and field, and everything else still loads.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel

from fieldkit import paths
from fieldkit.cards.catalog import CardCatalog, load_tool_cards_from
from fieldkit.datafiles import DataProblem
from fieldkit.diagnostics.models import Device, FaultEntry, FaultTable, Note
from fieldkit.diagnostics.normalize import normalize_code
from fieldkit.diagnostics.search import SearchHit, SearchIndex
from fieldkit.diagnostics.tables import TableSource, load_layered, load_table_file
from fieldkit.i18n import N_
from fieldkit.textmodel import Source

SCHEMA = "fieldkit.fault_table/1"

__all__ = [
    "Catalog",
    "CodeLookup",
    "SearchHit",
    "UnknownDevice",
    "UnknownEntry",
    "default_catalog",
    "load_catalog",
]


class UnknownDevice(KeyError):
    """No fault table has that device key."""


class UnknownEntry(KeyError):
    """No entry has that id."""


@dataclass(frozen=True)
class CodeLookup:
    """The answer to "what does this code mean?".

    ``matches`` holds every entry showing the code (across devices unless ``device`` was
    given). When a device was given and nothing matched, ``known_codes`` lists that
    device's codes as the manual writes them; a code is never guessed from another brand.
    ``unknown_device`` is true when ``device`` is not a key of any table.
    """

    query: str
    normalized: str
    matches: list[FaultEntry] = field(default_factory=list)
    device: str | None = None
    known_codes: list[str] = field(default_factory=list)
    unknown_device: bool = False

    @property
    def found(self) -> bool:
        return bool(self.matches)


def _check_entry(path: Path, table: FaultTable, item: BaseModel, index: int) -> list[DataProblem]:
    assert isinstance(item, FaultEntry)
    prefix = table.device.key + "."
    if item.id.startswith(prefix):
        return []
    return [
        DataProblem.of(
            path,
            N_("entry id must start with {prefix} (the table's device key)"),
            entry=item.id,
            field=f"entries[{index}].id",
            prefix=prefix,
        )
    ]


def load_fault_file(path: Path) -> tuple[FaultTable | None, list[DataProblem]]:
    """One fault-table file, entry by entry (a bad entry costs only itself)."""

    def check(table: FaultTable, item: BaseModel, index: int) -> list[DataProblem]:
        return _check_entry(path, table, item, index)

    return load_table_file(path, FaultTable, FaultEntry, "entries", check)


class Catalog:
    """Fault tables by device key (in load order), with code and symptom lookups."""

    def __init__(
        self,
        tables: dict[str, FaultTable],
        table_paths: dict[str, Path],
        cards: CardCatalog,
        sources: list[TableSource] | None = None,
        problems: list[DataProblem] | None = None,
    ):
        self.tables = tables
        self.paths = table_paths
        self.cards = cards
        self.sources: list[TableSource] = list(sources or []) + list(cards.sources)
        self.problems: list[DataProblem] = list(problems or [])
        self._entries: dict[str, FaultEntry] = {}
        self._device_of: dict[str, str] = {}
        self._notes: dict[str, Note] = {}
        kept: dict[str, list[FaultEntry]] = {}
        for key, table in tables.items():
            kept[key] = []
            for note in table.notes:
                self._notes[f"{key}.{note.id}"] = note
            for entry in table.entries:
                if entry.id in self._entries:
                    self.problems.append(
                        DataProblem.of(
                            table_paths.get(key, Path(key)),
                            N_("duplicate entry id (already in {table}; the first one is kept)"),
                            entry=entry.id,
                            field="id",
                            table=self._device_of[entry.id],
                        )
                    )
                    continue
                self._entries[entry.id] = entry
                self._device_of[entry.id] = key
                kept[key].append(entry)
        for key, entries in kept.items():
            if len(entries) != len(tables[key].entries):
                self.tables[key] = tables[key].model_copy(update={"entries": entries})
        self.problems.extend(cards.problems)
        self._check_references()
        self._codes: dict[str, list[FaultEntry]] = {}
        for entry in self._entries.values():
            for code in entry.codes:
                bucket = self._codes.setdefault(normalize_code(code), [])
                if entry not in bucket:
                    bucket.append(entry)
        self._index: SearchIndex | None = None
        # Pinyin computed by an earlier process (see search.py); None = no disk cache.
        self.pinyin_cache: Path | None = pinyin_cache_file()
        self._index_lock = threading.Lock()

    # -- integrity --------------------------------------------------------------------
    def resolves(self, ref: str) -> bool:
        """True when ``ref`` names an entry, a table note (``<device>.<note>``) or a card."""
        return ref in self._entries or ref in self._notes or self.cards.has_id(ref)

    def _check_see_also(self, path: Path, owner: str, field: str, refs: list[str]) -> None:
        """One problem for each of ``refs`` that names no entry, note or tool card."""
        for n, ref in enumerate(refs):
            if not self.resolves(ref):
                self.problems.append(
                    DataProblem.of(
                        path,
                        N_("see_also {ref} is not an entry, note or tool card"),
                        entry=owner,
                        field=f"{field}.see_also[{n}]",
                        ref=ref,
                    )
                )

    def _check_references(self) -> None:
        for key, table in self.tables.items():
            path = self.paths.get(key, Path(key))
            for index, entry in enumerate(table.entries):
                self._check_see_also(path, entry.id, f"entries[{index}]", entry.see_also)
        for family in self.cards.families():
            path = self.cards.paths.get(family.family.key, Path(family.family.key))
            for index, card in enumerate(family.cards):
                self._check_see_also(path, card.id, f"cards[{index}]", card.see_also)
            for index, rule in enumerate(family.rules):
                owner = f"{family.family.key}.{rule.id}"
                self._check_see_also(path, owner, f"rules[{index}]", rule.see_also)
            for device in family.family.devices:
                if device not in self.tables:
                    self.problems.append(
                        DataProblem.of(
                            path,
                            N_("device {device} has no fault table"),
                            entry=family.family.key,
                            field="family.devices",
                            device=device,
                        )
                    )

    # -- tables and entries -----------------------------------------------------------
    def devices(self) -> list[Device]:
        return [table.device for table in self.tables.values()]

    def device_keys(self) -> list[str]:
        return list(self.tables)

    def table(self, device_key: str) -> FaultTable:
        try:
            return self.tables[device_key]
        except KeyError:
            raise UnknownDevice(device_key) from None

    def entries(self) -> list[FaultEntry]:
        return list(self._entries.values())

    def has_entry(self, entry_id: str) -> bool:
        return entry_id in self._entries

    def entry(self, entry_id: str) -> FaultEntry:
        try:
            return self._entries[entry_id]
        except KeyError:
            raise UnknownEntry(entry_id) from None

    def note(self, ref: str) -> Note:
        try:
            return self._notes[ref]
        except KeyError:
            raise UnknownEntry(ref) from None

    def device_of(self, entry: FaultEntry | str) -> Device:
        entry_id = entry if isinstance(entry, str) else entry.id
        return self.tables[self._device_of[entry_id]].device

    def source_of(self, entry: FaultEntry) -> Source:
        """The entry's own source, or its table's."""
        return entry.source or self.tables[self._device_of[entry.id]].source

    def path_of(self, entry: FaultEntry) -> Path | None:
        return self.paths.get(self._device_of[entry.id])

    def known_codes(self, device_key: str) -> list[str]:
        """The device's codes as its table writes them, each once, in table order."""
        seen: dict[str, str] = {}
        for entry in self.table(device_key).entries:
            for code in entry.codes:
                seen.setdefault(normalize_code(code), code)
        return list(seen.values())

    def resolve_device(self, device: str) -> str | None:
        """A device key as typed (case and spaces forgiven) → the key, or None."""
        key = device.strip().lower().replace(" ", "-").replace("_", "-")
        return key if key in self.tables else None

    # -- lookups ----------------------------------------------------------------------
    def lookup_code(self, code: str, device: str | None = None) -> CodeLookup:
        normalized = normalize_code(code)
        matches = list(self._codes.get(normalized, [])) if normalized else []
        if device is None:
            return CodeLookup(code, normalized, matches)
        key = self.resolve_device(device)
        if key is None:
            return CodeLookup(code, normalized, [], device, unknown_device=True)
        matches = [e for e in matches if self._device_of[e.id] == key]
        known = [] if matches else self.known_codes(key)
        return CodeLookup(code, normalized, matches, key, known)

    def search_index(self) -> SearchIndex:
        with self._index_lock:
            if self._index is None:
                self._index = SearchIndex(
                    [
                        (e, self.tables[self._device_of[e.id]].device)
                        for e in self._entries.values()
                    ],
                    pinyin_cache=self.pinyin_cache,
                )
            return self._index

    def search(self, query: str, limit: int = 20, device: str | None = None) -> list[SearchHit]:
        """Ranked symptom matches across every table (or one device); see ``search.py``."""
        devices = None
        if device is not None:
            key = self.resolve_device(device)
            if key is None:
                raise UnknownDevice(device)
            devices = {key}
        return self.search_index().search(query, limit=limit, devices=devices)

    def entries_with_display(self, device: str, words: list[str]) -> list[FaultEntry]:
        """Entries of ``device`` whose ``display`` contains every one of ``words``.

        Words compare case-insensitively after width folding (``SLEEP`` = ``sleep``).
        Used by the serial diagnosis rules to map what a meter shows to table entries.
        """
        wanted = {_fold_word(w) for w in words}
        return [
            entry
            for entry in self.table(device).entries
            if wanted <= {_fold_word(d) for d in entry.display}
        ]


def pinyin_cache_file() -> Path | None:
    """``<user data dir>/cache/pinyin.json``, or None when the folder cannot be found."""
    try:
        return paths.user_data_dir() / "cache" / "pinyin.json"
    except Exception:  # platformdirs failing must never stop a lookup
        return None


def _fold_word(word: str) -> str:
    import unicodedata

    return unicodedata.normalize("NFKC", word).strip().casefold()


def load_catalog(extra_dirs: list[Path] | None = None) -> Catalog:
    """Shipped tables, then each of ``extra_dirs`` (default: the ``FIELDKIT_DATA`` folders)."""
    return load_catalog_from(paths.data_dirs(extra_dirs))


def load_catalog_from(folders: list[Path]) -> Catalog:
    """Exactly these data folders, in order (used by ``fieldkit data check DIR``)."""
    loaded, sources, problems = load_layered(
        folders,
        "fault_codes",
        SCHEMA,
        "fault_table",
        load_fault_file,
        lambda t: t.device.key,
        claim_unknown=True,
    )
    cards = load_tool_cards_from(folders)
    return Catalog(
        {k: v.table for k, v in loaded.items()},
        {k: v.path for k, v in loaded.items()},
        cards,
        sources,
        problems,
    )


_default: Catalog | None = None
_default_key: tuple[str, ...] | None = None
_default_lock = threading.Lock()


def default_catalog() -> Catalog:
    """The shipped + ``FIELDKIT_DATA`` catalog, loaded once per process (reloaded when
    ``FIELDKIT_DATA`` changes)."""
    global _default, _default_key
    key = tuple(str(p) for p in paths.extra_data_dirs())
    with _default_lock:
        if _default is None or key != _default_key:
            _default = load_catalog()
            _default_key = key
        return _default

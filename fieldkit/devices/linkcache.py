"""What worked last time: the confirmed profile and baud rate per port and meter address.

Kept as a small JSON file in the user's data dir (``paths.user_data_dir()``, platformdirs).
A hit only changes the order things are tried in (the cached profile and baud first), so a
stale entry costs nothing but falls back to the full probe. A damaged or unwritable file is
ignored: the cache never makes a reading fail.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fieldkit import paths

FILE_NAME = "meter-links.json"
MAX_ENTRIES = 200
ANY_METER = "*"  # the last meter read on a port, whatever its address


@dataclass(frozen=True)
class CachedLink:
    profile_id: str
    baudrate: int
    address: str
    broadcast: bool  # the meter answered broadcast read-address


def _key(port: str, address: str | None) -> str:
    return f"{port}|{(address or ANY_METER).upper()}"


class LinkCache:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or paths.user_data_dir() / FILE_NAME

    def _load(self) -> dict[str, dict[str, Any]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        entries = data.get("entries") if isinstance(data, dict) else None
        return entries if isinstance(entries, dict) else {}

    def get(self, port: str, address: str | None = None) -> CachedLink | None:
        entry = self._load().get(_key(port, address))
        if not isinstance(entry, dict):
            return None
        try:
            return CachedLink(
                profile_id=str(entry["profile"]),
                baudrate=int(entry["baud"]),
                address=str(entry["address"]),
                broadcast=bool(entry.get("broadcast", True)),
            )
        except (KeyError, TypeError, ValueError):
            return None

    def put(self, port: str, link: CachedLink) -> None:
        entries = self._load()
        value = {
            "profile": link.profile_id,
            "baud": link.baudrate,
            "address": link.address,
            "broadcast": link.broadcast,
            "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        for key in (_key(port, link.address), _key(port, None)):
            entries.pop(key, None)
            entries[key] = value  # newest last
        while len(entries) > MAX_ENTRIES:
            entries.pop(next(iter(entries)))
        with contextlib.suppress(OSError):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps({"version": 1, "entries": entries}), encoding="utf-8")
            os.replace(tmp, self.path)

"""Every user-facing string of the devices area has a zh_CN translation."""

from __future__ import annotations

from pathlib import Path

from fieldkit import i18n
from fieldkit.devices import cardreader

ROOT = Path(__file__).resolve().parents[2]
FILES = [
    "fieldkit/devices/cjt188.py",
    "fieldkit/cards/layouts.py",
    "fieldkit/devices/transport.py",
    "fieldkit/devices/meter.py",
    "fieldkit/devices/cardreader.py",
    "fieldkit/devices/emulator.py",
    "fieldkit/devices/present.py",
    "fieldkit/cli/devices.py",
    "fieldkit/tui/screens/device.py",
]


def msgids() -> set[str]:
    found = {m for name in FILES for m in i18n.source_msgids(ROOT / name)}
    found |= {message for _kind, message in cardreader.ACR30_STATUS.values()}
    return found


def test_every_devices_msgid_is_translated() -> None:
    catalog = i18n.catalog("zh")
    missing = sorted(m for m in msgids() if m not in catalog)
    assert not missing, missing
    assert len(msgids()) > 50


def test_placeholders_survive_translation() -> None:
    catalog = i18n.catalog("zh")
    for msgid in msgids():
        assert i18n.placeholders(catalog[msgid]) == i18n.placeholders(msgid), msgid


def test_port_error_in_chinese_by_default() -> None:
    from fieldkit.devices.transport import PortNotFoundError, SerialTransport

    i18n.set_language("zh")
    try:
        SerialTransport("/dev/ttyUSB-fieldkit-missing")
    except PortNotFoundError as exc:
        assert "找不到端口" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("no error")

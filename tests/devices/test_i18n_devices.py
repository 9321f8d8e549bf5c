"""Every user-facing string of the devices area has a zh_CN translation."""

from __future__ import annotations

import ast
from pathlib import Path

from fieldkit import i18n
from fieldkit.devices import cardreader

ROOT = Path(__file__).resolve().parents[2]
FILES = [
    "fieldkit/devices/transport.py",
    "fieldkit/devices/meter.py",
    "fieldkit/devices/cardreader.py",
    "fieldkit/devices/emulator.py",
    "fieldkit/devices/present.py",
    "fieldkit/cli/devices.py",
]


def msgids() -> set[str]:
    found: set[str] = set()
    for name in FILES:
        for node in ast.walk(ast.parse((ROOT / name).read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "_"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                found.add(node.args[0].value)
    found |= {message for _kind, message in cardreader.ACR30_STATUS.values()}
    return found


def test_every_devices_msgid_is_translated() -> None:
    catalog = i18n.catalog("zh")
    missing = sorted(m for m in msgids() if m not in catalog)
    assert not missing, missing
    assert len(msgids()) > 50


def test_placeholders_survive_translation() -> None:
    import string

    catalog = i18n.catalog("zh")
    fmt = string.Formatter()
    for msgid in msgids():
        want = {f for _t, f, _s, _c in fmt.parse(msgid) if f}
        got = {f for _t, f, _s, _c in fmt.parse(catalog[msgid]) if f}
        assert want == got, msgid


def test_port_error_in_chinese_by_default() -> None:
    from fieldkit.devices.transport import PortNotFoundError, SerialTransport

    i18n.set_language("zh")
    try:
        SerialTransport("/dev/ttyUSB-fieldkit-missing")
    except PortNotFoundError as exc:
        assert "找不到端口" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("no error")

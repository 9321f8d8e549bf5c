"""Readings as labelled lines, shared by the CLI and the TUI (UI-free, translated)."""

from __future__ import annotations

from typing import Any

from fieldkit.devices.cjt188 import ValveState, hexstr
from fieldkit.i18n import _, get_language


def valve_text(valve: ValveState | str) -> str:
    names = {
        "open": _("open"),
        "closed": _("closed"),
        "abnormal": _("abnormal"),
        "unknown": _("unknown"),
    }
    return names.get(str(getattr(valve, "value", valve)), str(valve))


def meter_lines(reading: Any) -> list[tuple[str, str]]:
    """``reading`` is a :class:`fieldkit.devices.meter.MeterReading`."""
    m = reading.metering
    st = m.status
    lines = [
        (_("Meter address"), reading.address),
        (
            _("Profile"),
            _("{profile} at {baud} baud").format(profile=reading.profile_id, baud=reading.baudrate),
        ),
        (_("Current volume"), str(m.current)),
        (_("Settlement-date volume"), str(m.settlement)),
        (_("Meter clock"), m.clock.isoformat(sep=" ") if m.clock else _("not set")),
        (_("Valve"), valve_text(st.valve)),
        (_("Battery"), _("LOW (under-voltage)") if st.low_battery else _("normal")),
        (_("Status word (ST)"), hexstr(st.raw)),
    ]
    for key, on in st.vendor.items():
        lines.append((key, _("yes") if on else _("no")))
    if st.other_bits:
        lines.append((_("Vendor-defined status bits"), f"{st.other_bits:04X}"))
    return lines


def exchange_lines(exchanges: list[Any]) -> list[str]:
    """Every request (>>) and what came back (<<) in hex; resends and errors marked (!!)."""
    lines: list[str] = []
    for exchange in exchanges:
        tags = []
        if exchange.baudrate:
            tags.append(_("{baud} baud").format(baud=exchange.baudrate))
        if exchange.attempt > 1:
            tags.append(_("resend {n}").format(n=exchange.attempt - 1))
        suffix = f"   ({', '.join(tags)})" if tags else ""
        lines.append(f">> {hexstr(exchange.request)}{suffix}")
        lines.append(f"<< {hexstr(exchange.reply) if exchange.reply else _('(no reply)')}")
        if exchange.error:
            lines.append(f"!! {exchange.error}")
    return lines


def card_lines(decoded: Any) -> list[tuple[str, str]]:
    """``decoded`` is a :class:`fieldkit.cards.layouts.DecodedCard`."""
    language = get_language()
    if decoded.layout is None:
        return [(_("Card layout"), _("unknown — raw memory only"))]
    name = decoded.layout.name.get(language)
    if decoded.layout.example:
        name += " " + _("(EXAMPLE layout)")
    lines = [(_("Card layout"), name)]
    for f in decoded.fields:
        label = f.label.get(language) if f.label else f.key
        lines.append((label, f.display(language)))
    return lines


def hexdump(memory: bytes, width: int = 16) -> str:
    return "\n".join(
        f"{offset:02X}: {hexstr(memory[offset : offset + width])}"
        for offset in range(0, len(memory), width)
    )

"""Device screen: read a meter or an IC card, see the state, the diagnosis and the raw frames.

Self-contained: push ``DeviceScreen()`` from anywhere. Reading runs in a thread worker
(the UI never freezes); a missing or unplugged reader is a message on the screen, never
a traceback. The meter is found as ``fieldkit meter read`` finds it (the same
:func:`fieldkit.devices.meter.find_meter`, with the same cache); profile, baud rate, timeout
and address can be chosen. Messages sit right under the title, so an error is visible at
60×20. Every successful reading is posted as :class:`DeviceScreen.ReadingTaken` (with the
port it was read on) so the app can attach it to the current visit.

Opening is quick: the first view is only what a reading needs (the two read buttons, the
ports, the list of ports found, the results); the choices for an unusual meter (profile,
baud rate, timeout, address, model, the card's meter) are built when asked for (Ctrl+O or
the "More options" button), and until then a reading uses the defaults (probe, the
profile's timing, broadcast). Nothing from :mod:`fieldkit.devices` is imported until the
port list is filled (in a worker, after the first paint) or a reading is taken.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Button, Input, Label, Select, Static

from fieldkit.i18n import _, get_language
from fieldkit.tui.keys import translate_bindings
from fieldkit.tui.screens.base import StyledScreen
from fieldkit.tui.text import narrow
from fieldkit.tui.widgets.footer import FieldFooter

DEVICE_CHOICES = ("meihua-ic", "meihua-mhcg", "qianfeng-ic")
BAUD_CHOICES = (1200, 2400, 4800, 9600, 19200)  # fieldkit.devices.meter.BAUD_RATES
AUTO = "auto"


@dataclass(frozen=True)
class DeviceReading:
    """One reading as the screen took it: ``kind`` is "meter" or "card"; ``reading`` the
    domain object (MeterReading or DecodedCard); ``data`` JSON-ready, diagnosis included;
    ``port`` the port it was read on."""

    kind: str
    reading: Any
    diagnosis: Any
    data: dict[str, Any]
    port: str = ""


def _render_lines(lines: list[tuple[str, str]]) -> str:
    from rich.cells import cell_len

    width = max((cell_len(label) for label, _v in lines), default=0)
    return "\n".join(
        f"{label}{' ' * (width - cell_len(label))}  {narrow(value)}" for label, value in lines
    )


def _titled(widget: Input, title: str) -> Input:
    """An input whose label sits in its top border (one widget, one row less than a Label)."""
    widget.border_title = narrow(title)
    return widget


def _heading(text: str) -> str:
    return f"[b u]{escape(text)}[/]\n"


def severity_label(value: str) -> str:
    return {"info": _("info"), "warning": _("warning"), "danger": _("DANGER")}.get(value, value)


def _render_diagnosis(diagnosis: Any) -> str:
    language = get_language()
    if not diagnosis.findings:
        return _("No findings from this reading.")
    parts = []
    for finding in diagnosis.findings:
        lines = [f"[{severity_label(finding.severity.value)}] {finding.title.get(language)}"]
        lines += [f"  {line}" for line in finding.explanation.get(language).splitlines()]
        if finding.entry_ids:
            lines.append("  " + _("Fault entries: {ids}").format(ids=", ".join(finding.entry_ids)))
        if finding.card_ids:
            lines.append("  " + _("Tool cards: {ids}").format(ids=", ".join(finding.card_ids)))
        parts.append(narrow("\n".join(lines)))
    return "\n\n".join(parts)


class DeviceScreen(StyledScreen):
    """Choose a port, read a meter (CJ/T 188) or a card (ACR30/SLE4442), see the result."""

    CSS_PATH = "device.tcss"
    # Straight to the button: Textual's default (the first focusable widget, the controls'
    # scroll container) restyled the whole column twice on opening (focus, then blur).
    AUTO_FOCUS = "#device-read-meter"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f5", "read_meter", "Read meter", id="device.read_meter"),
        Binding("f6", "read_card", "Read card", id="device.read_card"),
        Binding("ctrl+r", "refresh_ports", "Refresh ports", id="device.refresh_ports"),
        Binding("ctrl+o", "more_options", "More options", id="device.more_options"),
        Binding("escape", "close", "Back", id="device.close"),
    ]

    class ReadingTaken(Message):
        """Posted after every successful reading (for the visit screen to attach)."""

        def __init__(self, reading: DeviceReading) -> None:
            super().__init__()
            self.reading = reading

    class _Done(Message):
        def __init__(self, reading: DeviceReading, state: str, raw: str) -> None:
            super().__init__()
            self.reading, self.state, self.raw = reading, state, raw

    class _Failed(Message):
        def __init__(self, error: str, raw: str = "") -> None:
            super().__init__()
            self.error, self.raw = error, raw

    class _Lists(Message):
        def __init__(
            self,
            ports: list[tuple[str, str]],
            profiles: list[tuple[str, str]],
            meter_port: str | None,
            card_port: str | None,
        ) -> None:
            super().__init__()
            self.ports, self.profiles = ports, profiles
            self.meter_port, self.card_port = meter_port, card_port

    def __init__(
        self, port: str | None = None, device: str | None = None, card_port: str | None = None
    ) -> None:
        super().__init__()
        translate_bindings(self)
        self._initial_port = port or ""
        self.port_setting = port
        """The port it was opened with (the ``serial_port`` setting)."""
        self._initial_card_port = card_port or ""
        self._initial_device = device
        self.readings: list[DeviceReading] = []
        self._card_ports: set[str] = set()
        self._profiles: list[tuple[str, str]] = []  # (label, id), once the worker read them
        self.options_shown = False  # the choices beyond the ports are mounted (Ctrl+O)

    # -- layout
    def compose(self) -> ComposeResult:
        yield Static(_("Meter and card reading"), id="device-title")
        yield Static(_("Choose a port, then F5 reads the meter, F6 the card."), id="device-message")
        with Horizontal(id="device-body"):
            with VerticalScroll(id="device-controls"):
                with Horizontal(id="device-buttons"):
                    yield Button(_("Read meter"), id="device-read-meter", variant="primary")
                    yield Button(_("Read card"), id="device-read-card")
                yield _titled(
                    Input(
                        value=self._initial_port,
                        placeholder=_("COM3, /dev/ttyUSB0, socket://..."),
                        id="device-port",
                    ),
                    _("Meter port"),
                )
                yield _titled(
                    Input(
                        value=self._initial_card_port,
                        placeholder=_("COM4, /dev/ttyUSB1, PC/SC reader"),
                        id="device-card-port",
                    ),
                    _("Card reader port"),
                )
                yield Label(_("Ports found"))
                yield Select[str]([], prompt=_("Choose a port"), id="device-port-list")
                yield Button(_("More options"), id="device-more")
            with VerticalScroll(id="device-results"):
                yield Static(_heading(_("State")) + _("Nothing read yet."), id="device-state")
                yield Static(_heading(_("Diagnosis")), id="device-diagnosis")
                yield Static(_heading(_("Raw frames")), id="device-raw")
        yield FieldFooter()

    def _option_widgets(self) -> list[Any]:
        """The choices for an unusual meter or a card check, built when asked for."""
        return [
            Label(_("Meter profile")),
            Select[str](
                [(_("Find automatically"), AUTO), *self._profiles],
                value=AUTO,
                allow_blank=False,
                id="device-profile",
            ),
            Label(_("Baud rate")),
            Select[str](
                [(_("Find automatically"), AUTO), *((str(b), str(b)) for b in BAUD_CHOICES)],
                value=AUTO,
                allow_blank=False,
                id="device-baud",
            ),
            _titled(
                Input(id="device-timeout", type="number", placeholder="1.2"),
                _("Timeout (seconds, empty: the profile's)"),
            ),
            _titled(
                Input(id="device-address", max_length=14, placeholder="30000000123456"),
                _("Meter address (14 digits, empty: broadcast)"),
            ),
            Label(_("Meter model (for the diagnosis)")),
            Select[str](
                [(key, key) for key in DEVICE_CHOICES],
                prompt=_("Unknown model"),
                value=self._initial_device or Select.NULL,
                id="device-model",
            ),
            _titled(Input(id="device-meter-number"), _("Meter's customer number (optional)")),
            _titled(
                Input(id="device-meter-count", type="integer"),
                _("Meter's purchase count (optional)"),
            ),
        ]

    def on_mount(self) -> None:
        # (no button when the app quits while this screen is being built ahead)
        for button in self.query("#device-read-meter").results(Button):
            button.focus()

    def on_screen_resume(self) -> None:
        # The ports as they are each time the screen is shown (a reader plugged in since),
        # listed after the screen has painted. (The app may build this screen before F6
        # and keep it between two F6: FieldkitApp.prebuild_device_screen.)
        self.call_after_refresh(self.action_refresh_ports)

    async def action_more_options(self) -> None:
        """Ctrl+O: the choices beyond the ports, in place of the button; the first one
        takes the focus (scrolled into view)."""
        if not self.options_shown:
            self.options_shown = True
            more = self.query_one("#device-more", Button)
            await self.query_one("#device-controls").mount_all(self._option_widgets(), after=more)
            await more.remove()
        first = self.query_one("#device-profile", Select)
        first.focus()
        first.scroll_visible(animate=False)

    @on(Button.Pressed, "#device-more")
    async def _more_button(self) -> None:
        await self.action_more_options()

    # -- ports and profiles (filled in a worker after the first paint)
    @work(thread=True, exclusive=True, group="device-ports")
    def action_refresh_ports(self) -> None:
        from fieldkit.devices.emulator import running_emulators
        from fieldkit.devices.profiles import load_profiles
        from fieldkit.devices.transport import list_ports

        found: list[tuple[str, str]] = []
        emulators = running_emulators()
        names = {"meter": _("emulated meter"), "card": _("emulated card reader")}
        for port, kind in sorted(emulators.items()):
            found.append((f"{port}  ({names.get(kind, kind)})", port))
        with contextlib.suppress(Exception):  # listing ports must never take the screen down
            found += [(info.label(), info.device) for info in list_ports()]
        language = get_language()
        try:
            profiles = [(f"{p.id}  {p.name.get(language)}", p.id) for p in load_profiles().profiles]
        except Exception:
            profiles = []
        self._card_ports = {port for port, kind in emulators.items() if kind == "card"}
        meter = next((p for p, kind in sorted(emulators.items()) if kind == "meter"), None)
        card = next(iter(sorted(self._card_ports)), None)
        self.post_message(self._Lists(found, profiles, meter, card))

    @on(_Lists)
    def _show_lists(self, message: _Lists) -> None:
        self.query_one("#device-port-list", Select).set_options(message.ports)
        self._profiles = message.profiles
        for profile in self.query("#device-profile").results(Select):  # once Ctrl+O built it
            chosen = profile.value
            profile.set_options([(_("Find automatically"), AUTO), *message.profiles])
            if chosen in {AUTO, *(pid for _label, pid in message.profiles)}:
                profile.value = chosen
        meter_input = self.query_one("#device-port", Input)
        if not meter_input.value and message.meter_port:
            meter_input.value = message.meter_port
        card_input = self.query_one("#device-card-port", Input)
        if not card_input.value and message.card_port:
            card_input.value = message.card_port

    @on(Select.Changed, "#device-port-list")
    def _port_chosen(self, event: Select.Changed) -> None:
        if isinstance(event.value, str):
            target = "#device-card-port" if event.value in self._card_ports else "#device-port"
            self.query_one(target, Input).value = event.value

    # -- reading
    def _field(self, selector: str) -> str:
        found = self.query(selector)
        return found.first(Input).value.strip() if found else ""

    def _choice(self, selector: str) -> str | None:
        found = self.query(selector)
        value = found.first(Select).value if found else None
        return value if isinstance(value, str) and value != AUTO else None

    def _device(self) -> str | None:
        return self._choice("#device-model") or self._initial_device

    def _say(self, text: str, *, error: bool = False) -> None:
        message = self.query_one("#device-message", Static)
        message.update(narrow(text))
        message.set_class(error, "error")

    @on(Button.Pressed, "#device-read-meter")
    def _meter_button(self) -> None:
        self.action_read_meter()

    @on(Button.Pressed, "#device-read-card")
    def _card_button(self) -> None:
        self.action_read_card()

    def _meter_settings(self) -> dict[str, Any] | None:
        """What the technician chose; a bad value is said on screen and nothing is read."""
        settings: dict[str, Any] = {}
        settings["profile_id"] = self._choice("#device-profile")
        baud = self._choice("#device-baud")
        settings["baudrate"] = int(baud) if baud else None
        timeout_text = self._field("#device-timeout")
        try:
            timeout = float(timeout_text) if timeout_text else None
        except ValueError:
            timeout = -1.0
        if timeout is not None and not 0.05 <= timeout <= 30:
            self._say(_("The timeout must be between 0.05 and 30 seconds."), error=True)
            return None
        settings["timeout"] = timeout
        address = self._field("#device-address").upper() or None
        if address is not None and (len(address) != 14 or not address.isdigit()):
            self._say(
                _("A meter address has 14 digits, not {address!r}.").format(address=address),
                error=True,
            )
            return None
        settings["address"] = address
        return settings

    def action_read_meter(self) -> None:
        port = self._field("#device-port")
        if not port:
            self._say(_("Choose or type the meter's port first."), error=True)
            return
        settings = self._meter_settings()
        if settings is not None:
            self._say(_("Reading the meter on {port}...").format(port=port))
            self._read_meter(port, self._device(), settings)

    def action_read_card(self) -> None:
        port = self._field("#device-card-port") or self._field("#device-port")
        if not port:
            self._say(_("Choose or type the card reader's port first."), error=True)
            return
        number = self._field("#device-meter-number") or None
        count_text = self._field("#device-meter-count")
        count = int(count_text) if count_text.lstrip("-").isdigit() else None
        self._say(_("Reading the card on {port}...").format(port=port))
        self._read_card(port, self._device(), number, count)

    def action_close(self) -> None:
        if len(self.app.screen_stack) > 1:
            self.app.pop_screen()

    @work(thread=True, exclusive=True, group="device-read")
    def _read_meter(self, port: str, device: str | None, settings: dict[str, Any]) -> None:
        from fieldkit.devices.cjt188 import AddressError, FrameError
        from fieldkit.devices.linkcache import LinkCache
        from fieldkit.devices.meter import MeterError, find_meter, frames_of
        from fieldkit.devices.present import exchange_lines, meter_lines
        from fieldkit.devices.profiles import load_profiles
        from fieldkit.devices.transport import PortError
        from fieldkit.diagnostics.rules import DeviceState, diagnose

        try:
            loaded = load_profiles()
            profile_id = settings["profile_id"]
            candidates = loaded.profile(profile_id) if profile_id else loaded.profiles
            found = find_meter(
                port,
                candidates,
                address=settings["address"],
                baudrate=settings["baudrate"],
                timeout=settings["timeout"],
                cache=LinkCache(),
            )
            reading = found.reading(port)
            diagnosis = diagnose(DeviceState.from_readings(meter=reading.metering, device=device))
        except (PortError, FrameError, MeterError, AddressError, KeyError) as exc:
            raw = "\n".join(exchange_lines(frames_of(exc)))
            self.post_message(self._Failed(str(exc).strip("'\""), raw))
            return
        except Exception as exc:  # a bug must still not leave the technician with a traceback
            self.post_message(self._Failed(_("Unexpected error: {error}").format(error=exc)))
            return
        data = reading.to_dict() | {"device": device, "diagnosis": diagnosis.to_dict()}
        raw = "\n".join(exchange_lines(reading.exchanges))
        result = DeviceReading("meter", reading, diagnosis, data, port)
        self.post_message(self._Done(result, _render_lines(meter_lines(reading)), raw))

    @work(thread=True, exclusive=True, group="device-read")
    def _read_card(
        self, port: str, device: str | None, meter_number: str | None, meter_count: int | None
    ) -> None:
        from fieldkit.cards.layouts import load_layouts
        from fieldkit.devices.cardreader import CardError, open_reader
        from fieldkit.devices.present import card_lines, hexdump
        from fieldkit.devices.transport import PortError
        from fieldkit.diagnostics.rules import DeviceState, diagnose

        try:
            reader = open_reader(port)
            try:
                image = reader.read_card()
            finally:
                reader.close()
            decoded = load_layouts().decode(image.memory)
            diagnosis = diagnose(
                DeviceState.from_readings(
                    card=decoded,
                    device=device,
                    meter_card_number=meter_number,
                    meter_purchase_count=meter_count,
                )
            )
        except (PortError, CardError) as exc:
            self.post_message(self._Failed(str(exc)))
            return
        except Exception as exc:  # a bug must still not leave the technician with a traceback
            self.post_message(self._Failed(_("Unexpected error: {error}").format(error=exc)))
            return
        data = decoded.to_dict() | {
            "device": device,
            "reader": image.reader,
            "port": port,
            "chip": image.chip,
            "taken_at": image.taken_at.isoformat(),
            "diagnosis": diagnosis.to_dict(),
        }
        raw = "\n".join(
            f">> {e.to_dict()['command']}\n<< {e.to_dict()['reply']}" for e in image.exchanges
        )
        raw += "\n\n" + hexdump(image.memory)
        result = DeviceReading("card", decoded, diagnosis, data, port)
        lines = [(_("Reader"), image.reader), *card_lines(decoded)]
        self.post_message(self._Done(result, _render_lines(lines), raw))

    @on(_Done)
    def _show(self, message: _Done) -> None:
        reading = message.reading
        self.query_one("#device-state", Static).update(_heading(_("State")) + escape(message.state))
        self.query_one("#device-diagnosis", Static).update(
            _heading(_("Diagnosis")) + escape(_render_diagnosis(reading.diagnosis))
        )
        self.query_one("#device-raw", Static).update(
            _heading(_("Raw frames")) + escape(message.raw)
        )
        when = reading.data.get("taken_at", "")[11:19] or "-"
        if reading.kind == "meter":
            self._say(
                _("Read at {time}: {volume} ({profile}, {baud} baud).").format(
                    time=when,
                    volume=reading.reading.metering.current,
                    profile=reading.data["profile"],
                    baud=reading.data["baudrate"],
                )
            )
        else:
            self._say(_("Read at {time}.").format(time=when))
        self.readings.append(reading)
        self.post_message(self.ReadingTaken(reading))

    @on(_Failed)
    def _show_error(self, message: _Failed) -> None:
        self._say(message.error, error=True)
        if message.raw:
            self.query_one("#device-raw", Static).update(
                _heading(_("Raw frames")) + escape(message.raw)
            )

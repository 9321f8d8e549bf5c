"""Device screen: read a meter or an IC card, see the state, the diagnosis and the raw frames.

Self-contained: push ``DeviceScreen()`` from anywhere. Reading runs in a thread worker
(the UI never freezes); a missing or unplugged reader is a message on the screen, never
a traceback. Every successful reading is posted as :class:`DeviceScreen.ReadingTaken`
so the visit screen can attach it to the current visit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Label, Select, Static

from fieldkit.i18n import _, get_language
from fieldkit.tui.keys import translate_bindings
from fieldkit.tui.text import narrow

DEVICE_CHOICES = ("meihua-ic", "meihua-mhcg", "qianfeng-ic")


@dataclass(frozen=True)
class DeviceReading:
    """One reading as the screen took it: ``kind`` is "meter" or "card"; ``reading`` the
    domain object (MeterReading or DecodedCard); ``data`` JSON-ready, diagnosis included."""

    kind: str
    reading: Any
    diagnosis: Any
    data: dict[str, Any]


def _render_lines(lines: list[tuple[str, str]]) -> str:
    width = max((len(label) for label, _v in lines), default=0)
    return "\n".join(f"{label.ljust(width)}  {narrow(value)}" for label, value in lines)


def _render_diagnosis(diagnosis: Any) -> str:
    language = get_language()
    if not diagnosis.findings:
        return _("No findings from this reading.")
    parts = []
    for finding in diagnosis.findings:
        lines = [f"[{finding.severity.value}] {finding.title.get(language)}"]
        lines += [f"  {line}" for line in finding.explanation.get(language).splitlines()]
        if finding.entry_ids:
            lines.append("  " + _("Fault entries: {ids}").format(ids=", ".join(finding.entry_ids)))
        if finding.card_ids:
            lines.append("  " + _("Tool cards: {ids}").format(ids=", ".join(finding.card_ids)))
        parts.append(narrow("\n".join(lines)))
    return "\n\n".join(parts)


class DeviceScreen(Screen[Any]):
    """Choose a port, read a meter (CJ/T 188) or a card (ACR30/SLE4442), see the result."""

    CSS_PATH = "device.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f5", "read_meter", "Read meter", id="device.read_meter"),
        Binding("f6", "read_card", "Read card", id="device.read_card"),
        Binding("ctrl+r", "refresh_ports", "Refresh ports", id="device.refresh_ports"),
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
        def __init__(self, error: str) -> None:
            super().__init__()
            self.error = error

    class _Ports(Message):
        def __init__(self, ports: list[tuple[str, str]]) -> None:
            super().__init__()
            self.ports = ports

    def __init__(self, port: str | None = None, device: str | None = None) -> None:
        super().__init__()
        translate_bindings(self)
        self._initial_port = port or ""
        self._initial_device = device
        self.readings: list[DeviceReading] = []
        self._probed: dict[str, Any] = {}  # port → ProbeResult of the last successful probe

    # -- layout
    def compose(self) -> ComposeResult:
        yield Static(_("Meter and card reading"), id="device-title")
        with Horizontal(id="device-body"):
            with Vertical(id="device-controls"):
                yield Label(_("Port"))
                yield Select[str]([], prompt=_("Choose a port"), id="device-port-list")
                yield Input(
                    value=self._initial_port,
                    placeholder=_("or type COM3, /dev/ttyUSB0, socket://..."),
                    id="device-port",
                )
                yield Label(_("Meter model (for the diagnosis)"))
                yield Select[str](
                    [(key, key) for key in DEVICE_CHOICES],
                    prompt=_("Unknown model"),
                    value=self._initial_device or Select.NULL,
                    id="device-model",
                )
                yield Label(_("Meter's customer number (optional)"))
                yield Input(id="device-meter-number")
                yield Label(_("Meter's purchase count (optional)"))
                yield Input(id="device-meter-count", type="integer")
                with Horizontal(id="device-buttons"):
                    yield Button(_("Read meter"), id="device-read-meter", variant="primary")
                    yield Button(_("Read card"), id="device-read-card")
                yield Static("", id="device-message")
            with VerticalScroll(id="device-results"):
                yield Label(_("State"), classes="device-heading")
                yield Static(_("Nothing read yet."), id="device-state")
                yield Label(_("Diagnosis"), classes="device-heading")
                yield Static("", id="device-diagnosis")
                yield Label(_("Raw frames"), classes="device-heading")
                yield Static("", id="device-raw")
        yield Footer()

    def on_mount(self) -> None:
        self.action_refresh_ports()

    # -- ports
    @work(thread=True, exclusive=True, group="device-ports")
    def action_refresh_ports(self) -> None:
        from fieldkit.devices.transport import list_ports

        try:
            found = [(info.label(), info.device) for info in list_ports()]
        except Exception:  # listing ports must never take the screen down
            found = []
        self.post_message(self._Ports(found))

    @on(_Ports)
    def _show_ports(self, message: _Ports) -> None:
        select = self.query_one("#device-port-list", Select)
        select.set_options(message.ports)

    @on(Select.Changed, "#device-port-list")
    def _port_chosen(self, event: Select.Changed) -> None:
        if isinstance(event.value, str):
            self.query_one("#device-port", Input).value = event.value

    # -- reading
    def _port(self) -> str | None:
        port = self.query_one("#device-port", Input).value.strip()
        if not port:
            self._say(_("Choose or type a port first."), error=True)
            return None
        return port

    def _device(self) -> str | None:
        value = self.query_one("#device-model", Select).value
        return value if isinstance(value, str) else None

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

    def action_read_meter(self) -> None:
        port = self._port()
        if port:
            self._say(_("Reading the meter on {port}...").format(port=port))
            self._read_meter(port, self._device())

    def action_read_card(self) -> None:
        port = self._port()
        if port:
            number = self.query_one("#device-meter-number", Input).value.strip() or None
            count_text = self.query_one("#device-meter-count", Input).value.strip()
            count = int(count_text) if count_text.lstrip("-").isdigit() else None
            self._say(_("Reading the card on {port}...").format(port=port))
            self._read_card(port, self._device(), number, count)

    def action_close(self) -> None:
        if len(self.app.screen_stack) > 1:
            self.app.pop_screen()

    @work(thread=True, exclusive=True, group="device-read")
    def _read_meter(self, port: str, device: str | None) -> None:
        from fieldkit.devices.cardreader import CardError
        from fieldkit.devices.cjt188 import AddressError, FrameError
        from fieldkit.devices.meter import MeterError, probe, read_meter
        from fieldkit.devices.present import meter_lines
        from fieldkit.devices.transport import PortError
        from fieldkit.diagnostics.rules import DeviceState, diagnose

        try:
            found = self._probed.get(port)
            reading = None
            probe_frames: list[Any] = []
            if found is not None:  # the same meter as last time: skip the probe
                try:
                    reading = read_meter(
                        port, found.profile, address=found.address, baudrate=found.baudrate
                    )
                except (PortError, FrameError, MeterError):
                    reading = None
            if reading is None:
                found = probe(port)
                self._probed[port] = found
                probe_frames = list(found.exchanges)
                reading = read_meter(
                    port, found.profile, address=found.address, baudrate=found.baudrate
                )
            diagnosis = diagnose(DeviceState.from_readings(meter=reading.metering, device=device))
        except (PortError, FrameError, MeterError, CardError, AddressError) as exc:
            self.post_message(self._Failed(str(exc)))
            return
        except Exception as exc:  # a bug must still not leave the technician with a traceback
            self.post_message(self._Failed(_("Unexpected error: {error}").format(error=exc)))
            return
        data = reading.to_dict() | {"device": device, "diagnosis": diagnosis.to_dict()}
        raw = "\n".join(
            f">> {e.to_dict()['request']}\n<< {e.to_dict()['reply'] or '-'}"
            for e in [*probe_frames, *reading.exchanges]
        )
        result = DeviceReading("meter", reading, diagnosis, data)
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
            "chip": image.chip,
            "taken_at": image.taken_at.isoformat(),
            "diagnosis": diagnosis.to_dict(),
        }
        raw = "\n".join(
            f">> {e.to_dict()['command']}\n<< {e.to_dict()['reply']}" for e in image.exchanges
        )
        raw += "\n\n" + hexdump(image.memory)
        result = DeviceReading("card", decoded, diagnosis, data)
        lines = [(_("Reader"), image.reader), *card_lines(decoded)]
        self.post_message(self._Done(result, _render_lines(lines), raw))

    @on(_Done)
    def _show(self, message: _Done) -> None:
        reading = message.reading
        self.query_one("#device-state", Static).update(message.state)
        self.query_one("#device-diagnosis", Static).update(_render_diagnosis(reading.diagnosis))
        self.query_one("#device-raw", Static).update(message.raw)
        self._say(_("Read at {time}.").format(time=reading.data.get("taken_at", "")[11:19] or "-"))
        self.readings.append(reading)
        self.post_message(self.ReadingTaken(reading))

    @on(_Failed)
    def _show_error(self, message: _Failed) -> None:
        self._say(message.error, error=True)

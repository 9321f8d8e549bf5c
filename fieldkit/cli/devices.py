"""``fieldkit meter|card|ports|emulate``: thin shells over :mod:`fieldkit.devices`.

Read-only by default: ``meter valve`` is the only write and asks before sending.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

import click

from fieldkit.cli.common import echo_json, fail, json_option, lang_option
from fieldkit.i18n import _


def _profiles() -> Any:
    from fieldkit.devices.profiles import load_profiles

    loaded = load_profiles()
    for problem in loaded.problems:
        click.echo(problem.describe(), err=True)
    return loaded


def _profile(profile_id: str | None) -> Any:
    from fieldkit.devices.profiles import UnknownProfile

    loaded = _profiles()
    if profile_id is None:
        return None
    try:
        return loaded.profile(profile_id)
    except UnknownProfile:
        fail(
            _("Error: no meter profile {id}; known: {ids}").format(
                id=profile_id, ids=", ".join(loaded.ids())
            )
        )


def _device_errors() -> tuple[type[BaseException], ...]:
    from fieldkit.devices.cardreader import CardError
    from fieldkit.devices.cjt188 import AddressError, FrameError
    from fieldkit.devices.meter import MeterError
    from fieldkit.devices.transport import PortError

    return (PortError, FrameError, MeterError, CardError, AddressError)


def _option_check(
    check: Callable[[Any], Any],
) -> Callable[[click.Context, click.Parameter, Any], Any]:
    """``check(value)`` as a click option callback: an option not given (``None``) is not
    checked; the devices layer's own errors become click's usage error, in its words."""

    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        from fieldkit.devices.cjt188 import AddressError
        from fieldkit.devices.transport import PortError

        if value is None:
            return None
        try:
            return check(value)
        except (AddressError, PortError) as exc:
            raise click.BadParameter(str(exc)) from exc

    return callback


@_option_check
def _check_baud(value: int) -> int:
    from fieldkit.devices.meter import BAUD_RATES

    if value not in BAUD_RATES:
        raise click.BadParameter(
            _("{baud} is not a baud rate meters use; choose one of {rates}.").format(
                baud=value, rates=", ".join(str(b) for b in BAUD_RATES)
            )
        )
    return value


@_option_check
def _check_address(value: str) -> str:
    """14 BCD digits, checked before anything is opened or sent."""
    from fieldkit.devices.cjt188 import encode_address

    encode_address(value)
    text = value.strip().replace(" ", "").upper()
    if any(ch not in "0123456789" for ch in text) and text != "A" * 14:
        raise click.BadParameter(
            _("The meter address {address!r} is not made of digits (BCD).").format(address=value)
        )
    return text


@_option_check
def _check_device(value: str) -> str:
    from fieldkit.diagnostics.catalog import default_catalog

    catalog = default_catalog()
    key = catalog.resolve_device(value)
    if key is None:
        raise click.BadParameter(
            _("no fault table for device {device!r}; known: {keys}").format(
                device=value, keys=", ".join(catalog.device_keys())
            )
        )
    return key


@_option_check
def _check_port(value: str) -> str:
    from fieldkit.devices.transport import check_port_name

    check_port_name(value)
    return value


def _with_options(
    options: list[Callable[[Callable[..., None]], Callable[..., None]]],
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Apply click options so that ``--help`` lists them in the order given."""

    def decorate(func: Callable[..., None]) -> Callable[..., None]:
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


timeout_option = click.option(
    "--timeout",
    type=click.FloatRange(0.05, 30),
    default=None,
    help="Seconds a slow meter may take to answer (default: the profile's).",
)
retries_option = click.option(
    "--retries",
    type=click.IntRange(0, 5),
    default=None,
    help="Resends after silence or a bad checksum (default: the profile's, 2).",
)
no_cache_option = click.option(
    "--no-cache", is_flag=True, help="Do not start with what worked last time on this port."
)


def _print_lines(lines: list[tuple[str, str]]) -> None:
    """Label and value, the values aligned by display width (a Chinese character is 2)."""
    from fieldkit.cli.lookup import cell_width, pad

    width = max((cell_width(label) for label, _v in lines), default=0)
    for label, value in lines:
        click.echo(f"{pad(label, width)}  {value}")


def _print_exchanges(exchanges: list[Any], *, err: bool = False) -> None:
    """Every request (>>) and reply (<<) in hex, as the meter really said it."""
    from fieldkit.devices.present import exchange_lines

    for line in exchange_lines(exchanges):
        click.echo(line, err=err)


def _meter_failed(exc: BaseException, raw: bool) -> None:
    """One clear line, and with ``--raw`` every frame that was sent and received."""
    from fieldkit.devices.meter import frames_of

    if raw:
        _print_exchanges(frames_of(exc), err=True)
    fail(_("Error: {error}").format(error=exc))


def _write_to_meter(
    port: str,
    profile_id: str,
    baud: int | None,
    yes: bool,
    write: Callable[[Any, Callable[[str], bool]], object],
) -> None:
    """Run one confirmed write (``write(link, confirm)``); the technician is asked first."""
    from fieldkit.devices.meter import MeterLink, NotConfirmedError, open_transport

    profile = _profile(profile_id)

    def confirm(what: str) -> bool:
        if yes:
            return True
        return click.confirm(_("Really {what}?").format(what=what), default=False)

    try:
        with open_transport(port, profile, baud) as transport:
            write(MeterLink(transport, profile), confirm)
    except NotConfirmedError as exc:
        fail(str(exc), code=2)
    except _device_errors() as exc:
        fail(_("Error: {error}").format(error=exc))


def _print_diagnosis(diagnosis: Any) -> None:
    from fieldkit.cli.lookup import Printer, severity_label
    from fieldkit.i18n import get_language

    out = Printer()
    if diagnosis.problems:  # a broken rule file must not pass silently as "no findings"
        click.echo("")
        click.echo(_("Problems in the diagnosis rules (those rules were not applied):"))
        for problem in diagnosis.problems:
            out.wrapped(problem.describe(), indent=2)
        out.echo()
        out = Printer()
    if not diagnosis.findings:
        return
    click.echo("")
    click.echo(_("Diagnosis:"))
    language = get_language()
    for finding in diagnosis.findings:
        out.line(f"  [{severity_label(finding.severity.value)}] {finding.title.get(language)}")
        for line in finding.explanation.get(language).splitlines():
            out.wrapped(line, indent=6)
        if finding.entry_ids:
            out.wrapped(_("See: {ids}").format(ids=", ".join(finding.entry_ids)), indent=6)
        if finding.card_ids:
            out.wrapped(_("Tool cards: {ids}").format(ids=", ".join(finding.card_ids)), indent=6)
    out.echo()


device_option = click.option(
    "--device",
    default=None,
    callback=_check_device,
    help="Fault-table device key for the diagnosis (meihua-ic, meihua-mhcg, qianfeng-ic).",
)


# ---------------------------------------------------------------- meter


@click.group()
def meter() -> None:
    """Read a gas meter over serial (CJ/T 188). Read-only unless you confirm a write."""


def _meter_options(func: Callable[..., None]) -> Callable[..., None]:
    """Options shared by ``meter read`` and ``meter scan``."""
    options = [
        click.option(
            "--port",
            required=True,
            callback=_check_port,
            help="COM3, /dev/ttyUSB0, a pty, socket://host:port …",
        ),
        click.option(
            "--address",
            default=None,
            callback=_check_address,
            help="Read this meter directly (14 digits); default: broadcast read-address.",
        ),
        click.option(
            "--profile", "profile_id", default=None, help="Meter profile id; default: probe."
        ),
        click.option(
            "--baud",
            type=int,
            default=None,
            callback=_check_baud,
            help="Baud rate; default: try 2400/4800/9600.",
        ),
        timeout_option,
        retries_option,
        no_cache_option,
        click.option(
            "--raw", is_flag=True, help="Also print every frame in hex (also on failure)."
        ),
    ]
    return _with_options(options)(func)


def _find(
    port: str,
    address: str | None,
    profile_id: str | None,
    baud: int | None,
    timeout: float | None,
    retries: int | None,
    no_cache: bool,
    raw: bool,
) -> Any:
    from fieldkit.devices.linkcache import LinkCache
    from fieldkit.devices.meter import find_meter

    profile = _profile(profile_id)
    candidates = profile if profile is not None else _profiles().profiles
    try:
        return find_meter(
            port,
            candidates,
            address=address,
            baudrate=baud,
            timeout=timeout,
            retries=retries,
            cache=None if no_cache else LinkCache(),
        )
    except _device_errors() as exc:
        _meter_failed(exc, raw)


@meter.command("read")
@_meter_options
@device_option
@json_option
@lang_option
def meter_read(
    port: str,
    address: str | None,
    profile_id: str | None,
    baud: int | None,
    timeout: float | None,
    retries: int | None,
    no_cache: bool,
    raw: bool,
    device: str | None,
    as_json: bool,
    lang: str,
) -> None:
    """Read the meter's volume, clock, valve and battery state (DI 901F)."""
    from fieldkit.devices.present import meter_lines
    from fieldkit.diagnostics.rules import DeviceState, diagnose

    reading = _find(port, address, profile_id, baud, timeout, retries, no_cache, raw).reading(port)
    diagnosis = diagnose(DeviceState.from_readings(meter=reading.metering, device=device))
    if as_json:
        data = reading.to_dict()
        data["diagnosis"] = diagnosis.to_dict()
        echo_json(data)
        return
    _print_lines(meter_lines(reading))
    _print_diagnosis(diagnosis)
    if raw:
        click.echo("")
        _print_exchanges(reading.exchanges)


@meter.command("scan")
@_meter_options
@json_option
@lang_option
def meter_scan(
    port: str,
    address: str | None,
    profile_id: str | None,
    baud: int | None,
    timeout: float | None,
    retries: int | None,
    no_cache: bool,
    raw: bool,
    as_json: bool,
    lang: str,
) -> None:
    """Find the meter on the line: read-address, then a 901F read that confirms the profile
    (both DI orders, 2400/4800/9600 8E1)."""
    found = _find(port, address, profile_id, baud, timeout, retries, no_cache, raw)
    if as_json:
        echo_json(
            {
                "address": found.address,
                "profile": found.profile.id,
                "baudrate": found.baudrate,
                "broadcast": found.broadcast,
                "frames": [e.to_dict() for e in found.exchanges],
            }
        )
        return
    _print_lines(
        [
            (_("Meter address"), found.address),
            (_("Profile"), found.profile.id),
            (_("Baud rate"), str(found.baudrate)),
        ]
    )
    if raw:
        click.echo("")
        _print_exchanges(found.exchanges)


def _write_options(address_help: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """The options every meter write takes: one meter, one profile, and ``--yes``."""
    options = [
        click.option(
            "--port",
            required=True,
            callback=_check_port,
            help="COM3, /dev/ttyUSB0, a pty, socket://host:port …",
        ),
        click.option("--address", required=True, callback=_check_address, help=address_help),
        click.option("--profile", "profile_id", required=True, help="The meter's profile id."),
        click.option(
            "--baud", type=int, default=None, callback=_check_baud, help="The meter's baud rate."
        ),
        click.option("--yes", is_flag=True, help="Do not ask (scripts). Use with care."),
        lang_option,
    ]
    return _with_options(options)


@meter.command("valve")
@click.argument("action", type=click.Choice(["open", "close"]))
@_write_options("Meter address (14 digits); never broadcast.")
def meter_valve(
    action: str,
    port: str,
    address: str,
    profile_id: str,
    baud: int | None,
    yes: bool,
    lang: str,
) -> None:
    """Open or close the valve of one meter (asks for confirmation first)."""
    _write_to_meter(
        port,
        profile_id,
        baud,
        yes,
        lambda link, confirm: link.set_valve(address, action == "open", confirm=confirm),
    )
    click.echo(_("Done: the meter acknowledged the valve command."))


@meter.command("set-address")
@click.argument("new_address")
@_write_options("The meter's current address; never broadcast.")
def meter_set_address(
    new_address: str,
    port: str,
    address: str,
    profile_id: str,
    baud: int | None,
    yes: bool,
    lang: str,
) -> None:
    """Give one meter a new address (C=15, DI A018; asks for confirmation first)."""
    _write_to_meter(
        port,
        profile_id,
        baud,
        yes,
        lambda link, confirm: link.write_address(address, new_address, confirm=confirm),
    )
    click.echo(
        _("Done: the meter acknowledged its new address {address}.").format(address=new_address)
    )


# ---------------------------------------------------------------- card


@click.group()
def card() -> None:
    """Read an IC card (SLE4442) through a card reader. Never presents a PSC."""


@card.command("read")
@click.option(
    "--port",
    default=None,
    help="ACR30: its serial port. PC/SC: the reader's number (0, 1 …) or part of its name; "
    "default: the first reader.",
)
@click.option(
    "--backend",
    type=click.Choice(["acr30", "pcsc"]),
    default="acr30",
    show_default=True,
    help="How the reader is attached: acr30 (serial) or pcsc.",
)
@click.option(
    "--baud",
    type=click.Choice(["9600", "19200", "38400", "115200"]),
    default="9600",
    show_default=True,
    help="The card reader's baud rate.",
)
@click.option("--layout", "layout_id", default=None, help="Card layout id; default: by match.")
@click.option("--meter-card-number", default=None, help="The customer number of this meter.")
@click.option("--meter-purchase-count", type=int, default=None, help="表内购气次数, if known.")
@device_option
@json_option
@lang_option
def card_read(
    port: str | None,
    backend: str,
    baud: str,
    layout_id: str | None,
    meter_card_number: str | None,
    meter_purchase_count: int | None,
    device: str | None,
    as_json: bool,
    lang: str,
) -> None:
    """Print the decoded card and its raw memory."""
    from fieldkit.cards.layouts import load_layouts
    from fieldkit.devices.cardreader import open_reader
    from fieldkit.devices.present import card_lines, hexdump
    from fieldkit.diagnostics.rules import DeviceState, diagnose

    try:
        reader = open_reader(port, backend=backend, baudrate=int(baud))
        try:
            image = reader.read_card()
        finally:
            reader.close()
    except _device_errors() as exc:
        fail(_("Error: {error}").format(error=exc))
        return
    layouts = load_layouts()
    for problem in layouts.problems:
        click.echo(problem.describe(), err=True)
    try:
        decoded = layouts.decode(image.memory, layout_id)
    except KeyError:
        fail(_("Error: no card layout {id}").format(id=layout_id))
        return
    diagnosis = diagnose(
        DeviceState.from_readings(
            card=decoded,
            device=device,
            meter_card_number=meter_card_number,
            meter_purchase_count=meter_purchase_count,
        )
    )
    if as_json:
        data = decoded.to_dict()
        data["diagnosis"] = diagnosis.to_dict()
        echo_json(data)
        return
    _print_lines([(_("Reader"), image.reader), *card_lines(decoded)])
    _print_diagnosis(diagnosis)
    click.echo("")
    click.echo(_("Raw memory:"))
    click.echo(hexdump(image.memory))


# ---------------------------------------------------------------- ports


@click.command()
@json_option
@lang_option
def ports(as_json: bool, lang: str) -> None:
    """List serial ports with their USB VID:PID."""
    from fieldkit.devices.transport import list_ports

    found = list_ports()
    if as_json:
        echo_json([p.__dict__ for p in found])
        return
    if not found:
        click.echo(_("No serial ports found."))
    for info in found:
        click.echo(info.label())


# ---------------------------------------------------------------- emulate


@click.group()
def emulate() -> None:
    """Run a meter or card-reader emulator on a pseudo-terminal (Linux/macOS)."""


def _run_until_interrupted(handle: Any, what: str) -> None:
    click.echo(_("{what} emulator listening on {port}").format(what=what, port=handle.port_path))
    _wait_for_ctrl_c(handle.stop)


def _wait_for_ctrl_c(stop: Callable[[], None]) -> None:
    click.echo(_("Press Ctrl+C to stop."))
    sys.stdout.flush()
    try:
        while True:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        stop()


def _check_seconds(ctx: click.Context, param: click.Parameter, value: float) -> float:
    if not 0 <= value <= 30:
        raise click.BadParameter(_("between 0 and 30 seconds"))
    return value


@emulate.command("meter")
@click.option(
    "--profile",
    "profile_id",
    default="cjt188-2004",
    show_default=True,
    help="The meter profile to emulate.",
)
@click.option("--baud", type=int, default=None, callback=_check_baud, help="The meter's baud rate.")
@click.option(
    "--address",
    default="30000000123456",
    show_default=True,
    callback=_check_address,
    help="The meter's address (14 digits).",
)
@click.option(
    "--volume",
    type=click.FloatRange(0, 999999.99),
    default=123.45,
    show_default=True,
    help="The cumulative volume it reports (m³).",
)
@click.option(
    "--valve",
    type=click.Choice(["open", "closed", "abnormal"]),
    default="open",
    help="The valve state it reports.",
)
@click.option("--low-battery", is_flag=True, help="Report a low battery.")
@click.option(
    "--di-order",
    type=click.Choice(["2004", "2018", "both"]),
    default=None,
    help="DI byte order(s) the meter answers 901F in (2004: 90 1F, 2018: 1F 90); "
    "default: the profile's.",
)
@click.option(
    "--address-order",
    type=click.Choice(["2004", "2018", "both"]),
    default=None,
    help="DI order(s) it answers read-address in; default: as --di-order.",
)
@click.option("--echo", is_flag=True, help="The RS-485 adapter echoes every request.")
@click.option("--noise", is_flag=True, help="Stray 68/16 bytes around every reply.")
@click.option(
    "--split",
    type=float,
    default=0.0,
    callback=_check_seconds,
    help="Send each reply in three pieces, this many seconds apart.",
)
@click.option(
    "--delay",
    type=float,
    default=0.0,
    callback=_check_seconds,
    help="Seconds before each reply starts.",
)
@click.option("--corrupt-first", is_flag=True, help="The first reply has a bad checksum.")
@click.option("--no-broadcast", is_flag=True, help="Ignore broadcast read-address.")
@lang_option
def emulate_meter(
    profile_id: str,
    baud: int | None,
    address: str,
    volume: float,
    valve: str,
    low_battery: bool,
    di_order: str | None,
    address_order: str | None,
    echo: bool,
    noise: bool,
    split: float,
    delay: float,
    corrupt_first: bool,
    no_broadcast: bool,
    lang: str,
) -> None:
    """A gas meter answering CJ/T 188, with the faults real meters have (Windows: use a
    com0com pair instead)."""
    from fieldkit.devices.cjt188 import ValveState
    from fieldkit.devices.emulator import (
        DI_ORDERS,
        EmulatorUnavailable,
        MeterFaults,
        MeterState,
        start_meter_emulator,
    )

    profile = _profile(profile_id)
    state = MeterState(
        address=address, current=volume, valve=ValveState(valve), low_battery=low_battery
    )
    faults = MeterFaults(
        data_orders=DI_ORDERS[di_order] if di_order else None,
        address_orders=DI_ORDERS[address_order] if address_order else None,
        echo=echo,
        noise=noise,
        split=split,
        delay=delay,
        corrupt_first=corrupt_first,
        broadcast=not no_broadcast,
    )
    try:
        handle = start_meter_emulator(profile, state, baudrate=baud, faults=faults)
    except EmulatorUnavailable as exc:
        fail(str(exc))
        return
    _run_until_interrupted(handle, _("Meter"))


@emulate.command("card")
@click.option(
    "--card-number",
    type=int,
    default=12345678,
    show_default=True,
    help="The card number on the emulated card.",
)
@click.option(
    "--remaining",
    type=float,
    default=123.4,
    show_default=True,
    help="The gas left on the card (m³).",
)
@click.option("--no-card", is_flag=True, help="A reader with no card inserted.")
@click.option(
    "--baud",
    type=click.Choice(["9600", "19200", "38400", "115200"]),
    default="9600",
    show_default=True,
    help="The emulated reader's baud rate.",
)
@click.option(
    "--pcsc",
    "vpcd_port",
    type=click.IntRange(1, 65535),
    default=None,
    is_flag=False,
    flag_value=35963,
    help="Instead: put the card into the vpcd virtual PC/SC reader (vsmartcard) on this "
    "TCP port (default 35963) and read it with --backend pcsc.",
)
@lang_option
def emulate_card(
    card_number: int,
    remaining: float,
    no_card: bool,
    baud: str,
    vpcd_port: int | None,
    lang: str,
) -> None:
    """An ACR30 card reader holding an SLE4442 in the example user-card layout."""
    from fieldkit.devices.emulator import (
        EmulatorUnavailable,
        example_user_card,
        start_card_emulator,
    )

    card_image = None if no_card else example_user_card(card_number, remaining)
    if vpcd_port is not None:
        from fieldkit.devices.vpcd import start_vpcd_card

        virtual = start_vpcd_card(card_image, port=vpcd_port)
        click.echo(_("Virtual card for the vpcd reader on TCP port {port}").format(port=vpcd_port))
        _wait_for_ctrl_c(virtual.stop)
        return
    try:
        handle = start_card_emulator(card_image, baudrate=int(baud))
    except EmulatorUnavailable as exc:
        fail(str(exc))
        return
    _run_until_interrupted(handle, _("Card reader"))

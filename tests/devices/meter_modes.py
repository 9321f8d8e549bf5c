"""The field's meter behaviours as emulator modes, shared by the CLI, library and TUI matrix.

Each mode is a meter on a real pty with one fault switched on (research and issue 9: DI
order, echo, noise, split, late, corrupt first reply, no broadcast). ``profile`` is what the
probe must confirm; ``broadcast`` False means only ``--address`` can find the meter.
Delays are kept short (the matrix runs in CI) but long enough to break a gap-based read.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fieldkit.devices.emulator import MeterFaults


@dataclass(frozen=True)
class Mode:
    id: str
    emulator_profile: str
    faults: MeterFaults = field(default_factory=MeterFaults)
    baud: int = 2400
    profile: str = ""  # the profile a read must confirm (the 901F order)

    @property
    def broadcast(self) -> bool:
        return self.faults.broadcast

    @property
    def accepted(self) -> tuple[str, ...]:
        """Profiles a read may confirm: both editions for a meter answering both orders
        (which one depends on what was tried first, e.g. a cached profile)."""
        if self.faults.data_orders and len(self.faults.data_orders) > 1:
            return ("cjt188-2004", "cjt188-2018")
        return (self.profile,)


MODES = [
    Mode("2004", "cjt188-2004", profile="cjt188-2004"),
    Mode("2018", "cjt188-2018", profile="cjt188-2018"),
    # the simulator: 901F only as 1F 90, read-address in either order
    Mode(
        "2018-data-any-address",
        "cjt188-2018",
        MeterFaults(data_orders=("little",), address_orders=("big", "little")),
        profile="cjt188-2018",
    ),
    Mode(
        "both-orders-9600",
        "cjt188-2004",
        MeterFaults(data_orders=("big", "little")),
        baud=9600,
        profile="cjt188-2004",
    ),
    Mode("echo", "cjt188-2018", MeterFaults(echo=True), profile="cjt188-2018"),
    Mode(
        "noise",
        "cjt188-2018",
        MeterFaults(noise=True, address_orders=("big", "little")),
        profile="cjt188-2018",
    ),
    Mode(
        "split-late",
        "cjt188-2018",
        MeterFaults(split=0.12, delay=0.3),
        profile="cjt188-2018",
    ),
    Mode("slow-0.8s", "cjt188-2004", MeterFaults(delay=0.8), profile="cjt188-2004"),
    Mode("corrupt-first", "cjt188-2004", MeterFaults(corrupt_first=True), profile="cjt188-2004"),
    Mode("no-broadcast", "cjt188-2018", MeterFaults(broadcast=False), profile="cjt188-2018"),
]

"""Pressure units of the U-tube manometer readings, converted in this one place.

1 mmH2O = 9.80665 Pa (conventional millimetre of water, ISO 80000-4 / BIPM SI brochure);
1 kPa = 1000 Pa.
"""

from __future__ import annotations

from enum import StrEnum


class PressureUnit(StrEnum):
    PA = "Pa"
    KPA = "kPa"
    MMH2O = "mmH2O"


PA_PER_UNIT: dict[PressureUnit, float] = {
    PressureUnit.PA: 1.0,
    PressureUnit.KPA: 1000.0,
    PressureUnit.MMH2O: 9.80665,
}


def to_pa(value: float, unit: PressureUnit | str) -> float:
    return float(value) * PA_PER_UNIT[PressureUnit(unit)]


def convert(value: float, unit: PressureUnit | str, to: PressureUnit | str) -> float:
    """``value`` in ``unit`` expressed in ``to``."""
    return to_pa(value, unit) / PA_PER_UNIT[PressureUnit(to)]

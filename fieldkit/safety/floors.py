"""Safety floors in code: what a procedure file may not drop or weaken without an override.

The shipped ignition, purge and community gas-on procedures carry gates that data must not
remove silently (issue 8). :func:`check_floors` lists every way a procedure falls below
its floor; the procedure loader refuses such a file (so ``fieldkit data check`` reports it)
unless it carries a signed-off ``override`` block (approved_by, standard, approved_on).
The floors are the shipped values, kept here in code, not read from the shipped files.
"""

from __future__ import annotations

from dataclasses import dataclass

from fieldkit.i18n import N_, _
from fieldkit.procedures.models import (
    CheckStep,
    GateKind,
    MeasurementStep,
    PassRuleKind,
    Procedure,
    YesNo,
)
from fieldkit.procedures.units import PressureUnit, convert
from fieldkit.safety.rules import (
    COMMUNITY,
    COMMUNITY_GAS_IN,
    IGNITION,
    LEAK_CHECK_BEFORE_IGNITION,
    PURGE,
    REFUSAL_CHECKS,
    TIGHTNESS_FACT,
    TIGHTNESS_STEP,
)

MIN_HOLD_MINUTES = 15.0  # CJJ 94-2009 ch. 8 as commonly quoted [U]; manual 小区通气流程 item 3
MIN_START_KPA = 5.0  # CJJ 94-2009 ch. 8 as commonly quoted [U]
OVERRIDE_HINT = N_(
    "a utility that really runs a weaker procedure adds an 'override' block with "
    "approved_by (who signed it off), standard (which rule it follows) and approved_on "
    "(YYYY-MM-DD)"
)


@dataclass(frozen=True)
class FloorBreach:
    entry: str  # "step tightness-test" or the procedure id
    field: str | None
    template: str  # an English msgid with {placeholders}
    params: tuple[tuple[str, str], ...] = ()

    @property
    def message(self) -> str:
        """In English (logs)."""
        return self.template.format(**dict(self.params))

    def text(self) -> str:
        """In the current language."""
        return _(self.template).format(**dict(self.params))


def _tightness_floor(step: MeasurementStep, where: str, *, min_start: bool) -> list[FloorBreach]:
    out = []
    if step.hold is None or step.hold.minutes < MIN_HOLD_MINUTES:
        held = "0" if step.hold is None else f"{step.hold.minutes:g}"
        out.append(
            FloorBreach(
                where,
                "hold.minutes",
                N_("the pressure hold ({held} min) is below the floor of {floor} min"),
                (("held", held), ("floor", f"{MIN_HOLD_MINUTES:g}")),
            )
        )
    if not any(r.rule == PassRuleKind.NO_DROP for r in step.pass_rules):
        out.append(
            FloorBreach(where, "pass_rules", N_("the 'no_drop' rule (压力无压降) is missing"))
        )
    if min_start:
        starts = [
            convert(r.min, r.unit, PressureUnit.KPA)
            for r in step.pass_rules
            if r.rule in (PassRuleKind.MIN, PassRuleKind.RANGE)
            and r.reading == "start"
            and r.min is not None
            and r.unit is not None
        ]
        if not starts or max(starts) < MIN_START_KPA - 1e-9:
            out.append(
                FloorBreach(
                    where,
                    "pass_rules",
                    N_("the minimum start pressure is below the floor of {floor} kPa"),
                    (("floor", f"{MIN_START_KPA:g}"),),
                )
            )
    return out


def _ignition(procedure: Procedure) -> list[FloorBreach]:
    try:
        index = procedure.index_of(TIGHTNESS_STEP)
    except KeyError:
        index = -1
    step = procedure.steps[index] if index >= 0 else None
    if not isinstance(step, MeasurementStep) or TIGHTNESS_FACT not in step.establishes:
        return [
            FloorBreach(
                procedure.id,
                "steps",
                N_(
                    "the tightness test (a measurement step '{step}' establishing "
                    "'{fact}') is missing"
                ),
                (("step", TIGHTNESS_STEP), ("fact", TIGHTNESS_FACT)),
            )
        ]
    where = f"step {TIGHTNESS_STEP}"
    out = _tightness_floor(step, where, min_start=True)
    if index != 0:
        out.append(
            FloorBreach(where, None, N_("the tightness test must come before any gas-in step"))
        )
    for later in procedure.steps[index + 1 :]:
        if TIGHTNESS_FACT not in later.requires:
            out.append(
                FloorBreach(
                    f"step {later.id}",
                    "requires",
                    N_("a gas-in step must require '{fact}'"),
                    (("fact", TIGHTNESS_FACT),),
                )
            )
    return out


def _purge(procedure: Procedure) -> list[FloorBreach]:
    out = []
    positions = []
    for step_id, code in REFUSAL_CHECKS.items():
        try:
            step = procedure.step(step_id)
        except KeyError:
            out.append(
                FloorBreach(
                    procedure.id,
                    "steps",
                    N_("the 不予通气 check '{step}' is missing"),
                    (("step", step_id),),
                )
            )
            continue
        gate = step.on_fail if isinstance(step, CheckStep) else None
        if gate is None or gate.kind != GateKind.REFUSE or gate.refusal_code != code:
            out.append(
                FloorBreach(
                    f"step {step_id}",
                    "on_fail",
                    N_("must refuse gas with refusal_code '{code}'"),
                    (("code", str(code)),),
                )
            )
        positions.append(procedure.index_of(step_id))
    if positions and max(positions) >= len(positions):
        out.append(
            FloorBreach(procedure.id, "steps", N_("the 不予通气 checks must come before the purge"))
        )
    return out


def _community(procedure: Procedure) -> list[FloorBreach]:
    out = []
    try:
        gas_in = min(procedure.index_of(s) for s in COMMUNITY_GAS_IN)
    except (KeyError, ValueError):
        return [FloorBreach(procedure.id, "steps", N_("the indoor gas-in step is missing"))]
    for step_id, hold in (("indoor-tightness", False), ("all-risers-tightness", True)):
        try:
            step = procedure.step(step_id)
        except KeyError:
            out.append(
                FloorBreach(
                    procedure.id,
                    "steps",
                    N_("the tightness test '{step}' is missing"),
                    (("step", step_id),),
                )
            )
            continue
        where = f"step {step_id}"
        if not isinstance(step, MeasurementStep):
            out.append(FloorBreach(where, "kind", N_("must be a measurement")))
            continue
        if hold:
            out += _tightness_floor(step, where, min_start=False)
        elif not any(r.rule == PassRuleKind.NO_DROP for r in step.pass_rules):
            out.append(
                FloorBreach(where, "pass_rules", N_("the 'no_drop' rule (压力无压降) is missing"))
            )
    try:
        if procedure.index_of("indoor-tightness") > gas_in:
            out.append(
                FloorBreach("step indoor-tightness", None, N_("must come before the gas-in"))
            )
    except KeyError:
        pass
    for proc_id, step_id in LEAK_CHECK_BEFORE_IGNITION:
        if proc_id != procedure.id:
            continue
        try:
            step = procedure.step(step_id)
        except KeyError:
            out.append(
                FloorBreach(
                    procedure.id,
                    "steps",
                    N_("the leak check '{step}' is missing"),
                    (("step", step_id),),
                )
            )
            continue
        if (
            not isinstance(step, CheckStep)
            or step.pass_answer != YesNo.NO
            or step.on_fail is None
            or step.on_fail.kind == GateKind.REFUSE
        ):
            out.append(
                FloorBreach(
                    f"step {step_id}",
                    None,
                    N_("must be a leak check (pass: no leak) with a repair gate"),
                )
            )
    return out


_FLOORS = {IGNITION: _ignition, PURGE: _purge, COMMUNITY: _community}


def has_floor(procedure_id: str) -> bool:
    return procedure_id in _FLOORS


def check_floors(procedure: Procedure) -> list[FloorBreach]:
    """Every way ``procedure`` falls below its safety floor (empty: none, or no floor)."""
    check = _FLOORS.get(procedure.id)
    return check(procedure) if check is not None else []

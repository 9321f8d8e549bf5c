"""Which steps let gas in or light appliances, in code (not data), per procedure id.

These names are tied to the shipped procedures; :mod:`fieldkit.safety.floors` refuses a
procedure file that drops or renames them unless it carries a signed-off ``override``.
"""

from __future__ import annotations

from enum import StrEnum

from fieldkit.procedures.engine import RUN_STEP

IGNITION = "ignition"  # 通气点火操作步骤
PURGE = "indoor-purge"  # 户内燃气置换放散要求
COMMUNITY = "community-gas-connection"  # 小区通气流程

TIGHTNESS_FACT = "tightness_passed"
TIGHTNESS_STEP = "tightness-test"  # ignition's pre-ignition tightness measurement

# 户内燃气置换放散要求 rules 5–8, by step id of the purge procedure, and their refusal code.
REFUSAL_CHECKS = {
    "private-alteration": "private_alteration",
    "concealed-piping": "concealed_piping",
    "pipe-clamps": "no_pipe_clamps",
    "installation-compliant": "non_compliant_installation",
}
# Rules 1-3 stand until a correction is recorded and the check re-run and passed;
# rule 4 is repaired, then the check is re-run.
CORRECTION_CODES = frozenset({"private_alteration", "concealed_piping", "no_pipe_clamps"})
REPAIR_CODES = frozenset({"non_compliant_installation"})

# Procedures whose completion is the 置换放散 that ignition needs.
PURGE_PROCEDURES = frozenset({PURGE, COMMUNITY})
# 小区通气流程 item 4: "检测无泄漏后方可通气点火工作".
LEAK_CHECK_BEFORE_IGNITION = ((COMMUNITY, "second-leak-check"),)
# The indoor gas-in step of the community procedure.
COMMUNITY_GAS_IN = frozenset({"indoor-purge"})
# Steps whose failure is repaired on the piping: a repair there voids an earlier tightness pass.
PIPEWORK_STEPS = frozenset(
    {
        (IGNITION, TIGHTNESS_STEP),
        (IGNITION, "leak-recheck"),
        (COMMUNITY, "indoor-tightness"),
        (COMMUNITY, "second-leak-check"),
        (COMMUNITY, "last-riser-tightness"),
        (COMMUNITY, "all-risers-tightness"),
        ("stove-wont-light", "joints-leak-check"),
    }
)


class StepRole(StrEnum):
    NONE = "none"
    GAS_IN = "gas_in"  # lets gas into the customer's piping
    IGNITION = "ignition"  # part of gas-in and ignition (通气点火)


def step_role(procedure_id: str, step_id: str) -> StepRole:
    """What doing this step means for safety (run-level events have no role)."""
    if step_id == RUN_STEP:
        return StepRole.NONE
    if procedure_id == IGNITION:
        return StepRole.NONE if step_id == TIGHTNESS_STEP else StepRole.IGNITION
    if procedure_id == PURGE:
        return StepRole.NONE if step_id in REFUSAL_CHECKS else StepRole.GAS_IN
    if procedure_id == COMMUNITY:
        return StepRole.GAS_IN if step_id in COMMUNITY_GAS_IN else StepRole.NONE
    return StepRole.NONE

"""Typed shape of a procedure file (``data/procedures/<id>.yaml``).

A procedure is an ordered list of typed steps taken from the utility's service manual
(售后服务维修手册). Example (abridged)::

    schema: fieldkit.procedure/1
    id: indoor-purge
    version: 1
    title: {zh: 户内燃气置换放散要求, en: Indoor gas purging and venting requirements}
    source: {kind: manual, section: 户内燃气置换放散要求, page: 5}
    steps:
      - id: private-alteration
        kind: check
        manual_ref: 5
        title: {zh: 私自改造, en: Private alteration}
        text: {zh: 户内燃气管道经禾私自改造的不予通气, en: ...}
        question: {zh: 户内燃气管道是否经过私自改造?, en: ...}
        pass_answer: "no"
        on_fail:
          kind: refuse
          refusal_code: private_alteration
          reason: {zh: 户内燃气管道私自改造,不予通气, en: ...}

Step kinds: ``instruction`` (confirm), ``check`` (yes/no; a failing answer triggers its
gate), ``measurement`` (U-tube readings, the engine computes pass/fail), ``timer`` (cannot be
completed early), ``capture`` (meter no., seal nos., …) and ``sign_off`` (the customer).

Every value that is not in the manual (the pre-ignition tightness test's pressure and hold
time) carries its own :class:`~fieldkit.textmodel.Source`, so the UI can show where it came
from and a utility can override it with a file of the same id in a ``FIELDKIT_DATA`` folder.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, model_validator

from fieldkit.procedures.units import PressureUnit
from fieldkit.textmodel import AsWritten, Source, Strict, Text, check_as_written

SCHEMA_ID = "fieldkit.procedure/1"
PROCEDURE_ID = r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$"
STEP_ID = r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$"
FACT_NAME = r"^[a-z][a-z0-9_]*$"
FIELD_NAME = r"^[a-z][a-z0-9_]*$"
FAULT_ENTRY_ID = r"^[a-z][a-z0-9-]*\.[a-z0-9][a-z0-9.-]*$"


class YesNo(StrEnum):
    YES = "yes"
    NO = "no"

    @property
    def other(self) -> YesNo:
        return YesNo.NO if self is YesNo.YES else YesNo.YES


class GateKind(StrEnum):
    """What a failing check or measurement does to the job."""

    REFUSE = "refuse"  # 不予通气: the job ends, the reason is recorded
    REPAIR_THEN_RETRY = "repair_then_retry"  # stop until a repair is recorded, then redo the test
    STOP = "stop"  # an unsafe condition: stop until it is corrected, then check again


class RefusalCondition(StrEnum):
    """The manual's four conditions under which gas is not let in (不予通气).

    户内燃气置换放散要求 rules 5–8.
    """

    PRIVATE_ALTERATION = "private_alteration"  # 户内燃气管道私自改造
    CONCEALED_PIPING = "concealed_piping"  # 包管、包阀、包表
    NO_PIPE_CLAMPS = "no_pipe_clamps"  # 户内管道没有管卡
    NON_COMPLIANT_INSTALLATION = "non_compliant_installation"  # 安装不符合规范要求


class Gate(Strict):
    """What happens when a step fails. No key, flag or setting can bypass a gate."""

    kind: GateKind
    reason: Text
    refusal_code: RefusalCondition | None = None
    retry_from: str | None = Field(
        default=None,
        pattern=STEP_ID,
        description="step reopened after the repair/correction (default: the failed step)",
    )

    @model_validator(mode="after")
    def _check(self) -> Gate:
        if self.kind == GateKind.REFUSE and self.refusal_code is None:
            raise ValueError("a refuse gate needs 'refusal_code' (one of the 不予通气 conditions)")
        if self.kind != GateKind.REFUSE and self.refusal_code is not None:
            raise ValueError("'refusal_code' is only for refuse gates")
        if self.kind == GateKind.REFUSE and self.retry_from is not None:
            raise ValueError("a refusal ends the job; it cannot have 'retry_from'")
        return self


class Finding(Strict):
    """What a failing check of a symptom flow means and what to do about it."""

    text: Text
    see_also: list[str] = Field(
        default_factory=list, description="fault-table entry ids (e.g. meihua-ic.06)"
    )
    ends_run: bool = Field(default=True, description="the cause is found; the flow ends here")

    @model_validator(mode="after")
    def _ids(self) -> Finding:
        for ref in self.see_also:
            if not re.match(FAULT_ENTRY_ID, ref):
                raise ValueError(f"see_also {ref!r} is not a fault entry id (device.slug)")
        return self


class StepCondition(Strict):
    """A step applies only when an earlier check was answered a certain way."""

    step: str = Field(pattern=STEP_ID)
    answer: YesNo


class StepBase(Strict):
    id: str = Field(pattern=STEP_ID)
    title: Text
    text: Text = Field(description="the manual's words for this step")
    say_to_customer: Text | None = Field(
        default=None, description="what to explain to the customer at this step"
    )
    manual_ref: int | None = Field(
        default=None, ge=1, description="the item number in the manual's section"
    )
    source: Source | None = Field(
        default=None, description="where a step not in the manual comes from"
    )
    requires: list[str] = Field(
        default_factory=list, description="facts that must hold first (e.g. tightness_passed)"
    )
    applies_if: StepCondition | None = None
    as_written: list[AsWritten] = Field(
        default_factory=list, description="原文如此: the manual's typos in this step, explained"
    )

    @model_validator(mode="after")
    def _sourced(self) -> StepBase:
        if self.manual_ref is None and self.source is None:
            raise ValueError("a step needs 'manual_ref' (manual item) or its own 'source'")
        check_as_written(self.as_written, self)
        for fact in self.requires:
            if not re.match(FACT_NAME, fact):
                raise ValueError(f"requires {fact!r} is not a fact name (lower_snake_case)")
        return self


class InstructionStep(StepBase):
    """Do what the manual says, then confirm it was done."""

    kind: Literal["instruction"]


class CheckStep(StepBase):
    """A yes/no question; the answer other than ``pass_answer`` fails the step."""

    kind: Literal["check"]
    question: Text
    pass_answer: YesNo
    allow_not_applicable: bool = Field(
        default=False, description="'n/a' is a valid answer (e.g. no alarm is installed)"
    )
    on_fail: Gate | None = None
    finding: Finding | None = None
    see_also: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _fail_path(self) -> CheckStep:
        if self.on_fail is None and self.finding is None:
            raise ValueError(
                "a check needs 'on_fail' (a gate) or a 'finding' for its failing answer"
            )
        if self.on_fail is not None and self.finding is not None:
            raise ValueError("a check has either 'on_fail' or 'finding', not both")
        return self


class PassRuleKind(StrEnum):
    NO_DROP = "no_drop"  # end reading ≥ start reading (压力无压降)
    MIN = "min"
    MAX = "max"
    RANGE = "range"


class PassRule(Strict):
    """One condition a measurement must meet; values outside the manual carry a source."""

    rule: PassRuleKind
    reading: Literal["start", "end"] = Field(
        default="start", description="which reading min/max/range apply to"
    )
    min: float | None = None
    max: float | None = None
    unit: PressureUnit | None = None
    source: Source | None = None

    @model_validator(mode="after")
    def _values(self) -> PassRule:
        needs_min = self.rule in (PassRuleKind.MIN, PassRuleKind.RANGE)
        needs_max = self.rule in (PassRuleKind.MAX, PassRuleKind.RANGE)
        if needs_min != (self.min is not None):
            raise ValueError(
                f"rule {self.rule.value!r} {'needs' if needs_min else 'takes no'} 'min'"
            )
        if needs_max != (self.max is not None):
            raise ValueError(
                f"rule {self.rule.value!r} {'needs' if needs_max else 'takes no'} 'max'"
            )
        if self.rule != PassRuleKind.NO_DROP and self.unit is None:
            raise ValueError(f"rule {self.rule.value!r} needs 'unit'")
        if (
            self.rule == PassRuleKind.RANGE
            and self.min is not None
            and self.max is not None
            and self.min > self.max
        ):
            raise ValueError("'min' is greater than 'max'")
        return self


class Hold(Strict):
    """How long the pressure is held between the start and end readings."""

    minutes: float = Field(gt=0, le=24 * 60)
    source: Source


class MeasurementStep(StepBase):
    """Start and end readings (U-tube manometer); the engine decides pass or fail."""

    kind: Literal["measurement"]
    quantity: Literal["pressure"] = "pressure"
    instrument: Text | None = None
    units: list[PressureUnit] = Field(min_length=1, description="units the technician may use")
    hold: Hold | None = None
    pass_rules: list[PassRule] = Field(min_length=1)
    on_fail: Gate
    establishes: list[str] = Field(
        default_factory=list, description="facts a pass establishes for the visit"
    )
    reuse_earlier_pass: bool = Field(
        default=False,
        description="if every fact it establishes already holds in this visit, the step is "
        "satisfied by that earlier pass (recorded in the trail)",
    )

    @model_validator(mode="after")
    def _facts(self) -> MeasurementStep:
        for fact in self.establishes:
            if not re.match(FACT_NAME, fact):
                raise ValueError(f"establishes {fact!r} is not a fact name (lower_snake_case)")
        if self.reuse_earlier_pass and not self.establishes:
            raise ValueError("'reuse_earlier_pass' needs 'establishes'")
        if self.on_fail.kind == GateKind.REFUSE:
            raise ValueError("a failed measurement is repaired and retested, not refused")
        return self


class TimerStep(StepBase):
    """A countdown that cannot be completed before ``minutes`` have passed."""

    kind: Literal["timer"]
    minutes: float = Field(gt=0, le=24 * 60)
    duration_source: Source | None = None


class FieldType(StrEnum):
    TEXT = "text"
    NUMBER = "number"
    TEXT_LIST = "text_list"


class CaptureField(Strict):
    name: str = Field(pattern=FIELD_NAME)
    label: Text
    type: FieldType
    unit: str | None = None
    required: bool = True
    min_items: int = Field(default=1, ge=0, description="for text_list: how many at least")
    source: Source | None = Field(
        default=None,
        description="for a field the manual does not list: where it comes from (kind: utility)",
    )


class CaptureStep(StepBase):
    """Data written down at the job: meter no. (表钢号), seal nos. (表封号/铅封号), readings."""

    kind: Literal["capture"]
    fields: list[CaptureField] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> CaptureStep:
        names = [f.name for f in self.fields]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate field name(s): {', '.join(dupes)}")
        return self


class SignOffStep(StepBase):
    """The customer signs (设施交接单用户签字确认)."""

    kind: Literal["sign_off"]


Step = Annotated[
    InstructionStep | CheckStep | MeasurementStep | TimerStep | CaptureStep | SignOffStep,
    Field(discriminator="kind"),
]


class SourcedText(Text):
    """An intro or note paragraph; one not in the manual carries its ``source``, and the
    manual's typos in it are explained in ``as_written``."""

    source: Source | None = None
    as_written: list[AsWritten] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check_as_written(self) -> SourcedText:
        check_as_written(self.as_written, self)
        return self


class Procedure(Strict):
    schema_: Literal["fieldkit.procedure/1"] = Field(alias="schema")
    id: str = Field(pattern=PROCEDURE_ID)
    version: int = Field(ge=1)
    title: Text
    source: Source
    intro: list[SourcedText] = Field(
        default_factory=list,
        description="shown before the first step; a rule not in the manual carries its source",
    )
    notes: list[SourcedText] = Field(default_factory=list)
    steps: list[Step] = Field(min_length=1)

    def step(self, step_id: str) -> Step:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)

    def index_of(self, step_id: str) -> int:
        for index, step in enumerate(self.steps):
            if step.id == step_id:
                return index
        raise KeyError(step_id)

    @property
    def established_facts(self) -> set[str]:
        return {
            fact
            for step in self.steps
            if isinstance(step, MeasurementStep)
            for fact in step.establishes
        }

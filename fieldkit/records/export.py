"""A closed visit as the wire payload (``fieldkit.sync.schema.VisitPayload``).

``visit_payload`` reads every row of the visit inside the caller's session (so
``close_visit`` builds the outbox payload in the same transaction that closes the visit)
and returns a validated payload. Lists are in a fixed order, so the same rows always give
the same content hash.
"""

from __future__ import annotations

import base64
import uuid

from sqlmodel import Session, col, or_, select

from fieldkit.records.models import (
    Customer,
    CustomerSignature,
    DeviceReading,
    FollowUp,
    Hazard,
    HazardStatusChange,
    Measurement,
    MeterSwap,
    StepResult,
    Visit,
)
from fieldkit.records.queries import runs_of_visit, trail_of_run
from fieldkit.records.safety_facts import hazards_by_id
from fieldkit.sync.schema import (
    Address,
    CustomerPayload,
    DeviceReadingPayload,
    HazardPayload,
    MeasurementPayload,
    MeterPayload,
    MeterSwapPayload,
    ProcedureRunPayload,
    SignaturePayload,
    StepResultPayload,
    VisitPayload,
)


class ExportError(Exception):
    """The visit cannot be exported yet (not closed, or missing)."""


def customer_payload(customer: Customer) -> CustomerPayload:
    return CustomerPayload(
        customer_no=customer.customer_no,
        name=customer.name,
        phone=customer.phone,
        address=Address(
            community=customer.community,
            building=customer.building,
            unit=customer.unit,
            floor=customer.floor,
            room=customer.room,
            detail=customer.address_detail,
        ),
    )


def _runs(session: Session, visit_id: uuid.UUID) -> list[ProcedureRunPayload]:
    out = []
    for run in runs_of_visit(session, visit_id):
        steps = trail_of_run(session, run.id)
        measurements = session.exec(
            select(Measurement)
            .join(StepResult, col(StepResult.id) == col(Measurement.step_result_id))
            .where(Measurement.run_id == run.id)
            .order_by(col(StepResult.seq), col(Measurement.quantity), col(Measurement.id))
        ).all()
        out.append(
            ProcedureRunPayload(
                run_id=run.id,
                procedure_id=run.procedure_id,
                procedure_version=run.procedure_version,
                status=run.status,
                started_at=run.started_at,
                ended_at=run.ended_at,
                steps=[
                    StepResultPayload(
                        result_id=s.id,
                        step_id=s.step_id,
                        kind=s.kind,
                        value=s.value,
                        passed=s.passed,
                        at=s.at,
                        actor=s.actor,
                    )
                    for s in steps
                ],
                measurements=[
                    MeasurementPayload(
                        measurement_id=m.id,
                        step_id=m.step_id,
                        quantity=m.quantity,
                        value=m.value,
                        unit=m.unit,
                        taken_at=m.taken_at,
                    )
                    for m in measurements
                ],
            )
        )
    return out


def _hazards(session: Session, visit_id: uuid.UUID) -> list[HazardPayload]:
    """Hazards found in this visit, and hazards of earlier visits whose status was changed
    in this one (a 复查 visit carries the rechecked hazard with its new status)."""
    changed_here = select(HazardStatusChange.hazard_id).where(
        HazardStatusChange.visit_id == visit_id
    )
    hazards = session.exec(
        select(Hazard)
        .where(or_(Hazard.visit_id == visit_id, col(Hazard.id).in_(changed_here)))
        .order_by(col(Hazard.found_at), col(Hazard.id))
    ).all()
    # when each was recorded 已整改: the same time the laptop's safety state uses
    facts = hazards_by_id(session, [h.id for h in hazards])
    return [
        HazardPayload(
            hazard_id=h.id,
            description=h.description,
            level=h.level.value,
            status=h.status.value,
            found_at=h.found_at,
            deadline=h.deadline,
            basis=h.basis,
            refusal_code=h.refusal_code,
            fixed_at=facts[h.id].fixed_at if h.id in facts else None,
        )
        for h in hazards
    ]


def visit_payload(session: Session, visit_id: uuid.UUID) -> VisitPayload:
    """The closed visit ``visit_id`` as a validated :class:`VisitPayload`."""
    visit = session.get(Visit, visit_id)
    if visit is None:
        raise ExportError(f"no visit with id {visit_id}")
    if visit.closed_at is None or visit.outcome is None:
        raise ExportError(f"visit {visit_id} is not closed yet")
    customer = session.get(Customer, visit.customer_id)
    if customer is None:  # pragma: no cover - a foreign key guarantees it
        raise ExportError(f"visit {visit_id} has no customer")
    follow_up = session.exec(select(FollowUp).where(FollowUp.visit_id == visit_id)).first()
    if follow_up is None:
        raise ExportError(f"visit {visit_id} has no follow-up date")

    meter = None
    if visit.meter_no or visit.seal_nos or visit.meter_reading is not None:
        meter = MeterPayload(
            meter_no=visit.meter_no,
            seal_nos=list(visit.seal_nos),
            reading=visit.meter_reading,
            remaining_gas=visit.remaining_gas,
        )
    elif visit.remaining_gas is not None:
        meter = MeterPayload(
            meter_no=None, seal_nos=[], reading=None, remaining_gas=visit.remaining_gas
        )

    swaps = session.exec(
        select(MeterSwap)
        .where(MeterSwap.visit_id == visit_id)
        .order_by(col(MeterSwap.swapped_at), col(MeterSwap.id))
    ).all()
    signature = session.exec(
        select(CustomerSignature).where(CustomerSignature.visit_id == visit_id)
    ).first()
    readings = session.exec(
        select(DeviceReading)
        .where(DeviceReading.visit_id == visit_id)
        .order_by(col(DeviceReading.read_at), col(DeviceReading.id))
    ).all()

    return VisitPayload(
        schema_version=1,
        visit_id=visit.id,
        work_order_id=visit.work_order_id,
        technician_id=visit.technician_id,
        visit_type=visit.visit_type.value,
        customer=customer_payload(customer),
        meter=meter,
        outcome=visit.outcome.value,
        outcome_reason=visit.outcome_reason,
        started_at=visit.started_at,
        ended_at=visit.ended_at or visit.closed_at,
        procedure_runs=_runs(session, visit_id),
        meter_swaps=[
            MeterSwapPayload(
                swap_id=s.id,
                old_meter_no=s.old_meter_no,
                new_meter_no=s.new_meter_no,
                seal_nos=list(s.seal_nos),
                old_meter_reading=s.old_meter_reading,
                gas_used=s.gas_used,
                gas_remaining=s.gas_remaining,
                swapped_at=s.swapped_at,
                reason=s.reason,
            )
            for s in swaps
        ],
        hazards=_hazards(session, visit_id),
        signature=(
            SignaturePayload(
                signer_name=signature.signer_name,
                signed_at=signature.signed_at,
                image_png_base64=(
                    base64.b64encode(signature.image_png).decode("ascii")
                    if signature.image_png
                    else None
                ),
            )
            if signature is not None
            else None
        ),
        device_readings=[
            DeviceReadingPayload(
                reading_id=r.id,
                kind=r.kind.value,
                port=r.port,
                raw_hex=r.raw_hex,
                decoded=r.decoded,
                diagnosis=r.diagnosis,
                read_at=r.read_at,
            )
            for r in readings
        ],
        follow_up_due=follow_up.due_date,
        notes=visit.notes,
    )

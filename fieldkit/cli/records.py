"""``fieldkit visits …``: the visit records kept on this laptop (read-only views)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import click

from fieldkit.cli.common import database_url, echo_json, fail, json_option, lang_option
from fieldkit.i18n import _


def _repo(ctx: click.Context) -> Any:
    """Open the database once per command; any problem is one clear line, no traceback."""
    from fieldkit.config import ConfigError, load_settings
    from fieldkit.records.db import DatabaseError, open_database
    from fieldkit.records.repo import VisitRepository

    url = database_url(ctx.obj.get("db_url") if ctx.obj else None)
    try:
        # Only the default database in the user data dir may be created here; a --db
        # or configured path that does not exist is an error (a mistyped backup path).
        create = False
        if url is None:
            settings = ctx.meta.get("fieldkit.settings") or load_settings()
            url = settings.resolved_db_url()
            create = settings.is_default_db()
        database = open_database(url, create=create)
    except (ConfigError, DatabaseError) as exc:
        fail(_("Error: {error}").format(error=exc))
        raise SystemExit(1) from exc  # not reached: fail() exits
    ctx.call_on_close(database.close)
    return VisitRepository(database)


def _visit_id(repo: Any, text: str) -> uuid.UUID:
    """A full visit id, or the first characters of one (as shown by ``visits list``)."""
    from fieldkit.records.errors import NotFound

    try:
        full = uuid.UUID(text)
    except ValueError:
        pass
    else:
        try:
            repo.get_visit(full)
        except NotFound:
            fail(_("Error: no visit with id {id}").format(id=text))
        return full
    prefix = text.strip().lower().replace("-", "")
    if len(prefix) < 4:
        fail(_("Error: give the visit id (at least 4 characters of it)"))
    matches = [
        v.visit_id for v in repo.list_visits(limit=100_000) if v.visit_id.hex.startswith(prefix)
    ]
    if not matches:
        fail(_("Error: no visit with id {id}").format(id=text))
    if len(matches) > 1:
        fail(
            _("Error: {n} visits start with {id}; give more characters").format(
                n=len(matches), id=text
            )
        )
    return matches[0]


def _summary_json(v: Any) -> dict[str, Any]:
    return {
        "visit_id": str(v.visit_id),
        "customer_no": v.customer_no,
        "customer_name": v.customer_name,
        "address": v.address,
        "visit_type": v.visit_type.value,
        "technician_id": v.technician_id,
        "started_at": v.started_at.isoformat(),
        "closed_at": v.closed_at.isoformat() if v.closed_at else None,
        "outcome": v.outcome.value if v.outcome else None,
        "steps_saved": v.steps_saved,
        "outbox_state": v.outbox_state.value if v.outbox_state else None,
    }


@click.group()
@click.option(
    "--db",
    "db_url",
    default=None,
    help="Database file or URL (default: the configured one; e.g. D:\\backup\\fieldkit.db).",
)
@click.pass_context
def visits(ctx: click.Context, db_url: str | None) -> None:
    """Visit records kept on this laptop."""
    ctx.ensure_object(dict)
    ctx.obj["db_url"] = db_url


@visits.command("list")
@click.option("--open", "open_only", is_flag=True, help="Only visits not closed yet.")
@json_option
@lang_option
@click.pass_context
def list_visits(ctx: click.Context, open_only: bool, as_json: bool, lang: str) -> None:
    """List visits, newest first."""
    from fieldkit.records.handover import OUTCOME_LABELS, VISIT_TYPE_LABELS

    repo = _repo(ctx)
    rows = repo.list_visits(open_only=open_only)
    if as_json:
        echo_json([_summary_json(v) for v in rows])
        return
    if not rows:
        click.echo(_("No open visits.") if open_only else _("No visits recorded yet."))
        return
    for v in rows:
        state = (
            _(OUTCOME_LABELS[v.outcome]) if v.outcome is not None else _("open (can be resumed)")
        )
        click.echo(
            f"{v.visit_id.hex[:8]}  {v.started_at.astimezone():%Y-%m-%d %H:%M}  "
            f"{_(VISIT_TYPE_LABELS[v.visit_type])}  {v.customer_no} {v.customer_name or ''}  "
            f"{v.address}  [{state}]  " + _("{n} steps").format(n=v.steps_saved)
        )


@visits.command("show")
@click.argument("visit_id")
@json_option
@lang_option
@click.pass_context
def show(ctx: click.Context, visit_id: str, as_json: bool, lang: str) -> None:
    """Show one visit (the handover form plus every saved step)."""
    from fieldkit.records.handover import build_handover, handover_text

    repo = _repo(ctx)
    vid = _visit_id(repo, visit_id)
    state = repo.resume(vid)
    if as_json:
        visit = state.visit
        echo_json(
            {
                "visit_id": str(visit.id),
                "work_order_id": str(visit.work_order_id) if visit.work_order_id else None,
                "customer_no": state.customer.customer_no,
                "visit_type": visit.visit_type.value,
                "technician_id": visit.technician_id,
                "started_at": visit.started_at.isoformat(),
                "closed_at": visit.closed_at.isoformat() if visit.closed_at else None,
                "outcome": visit.outcome.value if visit.outcome else None,
                "outcome_reason": visit.outcome_reason,
                "meter_no": visit.meter_no,
                "seal_nos": visit.seal_nos,
                "runs": [
                    {
                        "run_id": str(run.run_id),
                        "procedure_id": run.procedure_id,
                        "procedure_version": run.procedure_version,
                        "status": run.status,
                        "events": [
                            {
                                "event_id": str(e.event_id),
                                "seq": e.seq,
                                "step_id": e.step_id,
                                "kind": e.kind,
                                "value": e.value,
                                "passed": e.passed,
                                "at": e.at.isoformat(),
                                "actor": e.actor,
                            }
                            for e in run.events
                        ],
                    }
                    for run in state.runs
                ],
            }
        )
        return
    click.echo(handover_text(build_handover(repo.database, vid)), nl=False)
    for run in state.runs:
        click.echo("")
        click.echo(
            _("Procedure {id} (version {version}): {status}").format(
                id=run.procedure_id, version=run.procedure_version, status=run.status
            )
        )
        for e in run.events:
            verdict = "" if e.passed is None else (" ✓" if e.passed else " ✗")
            if e.kind == "answered" and e.value.get("answer") == "n/a":
                verdict = " –"  # 不适用: not a pass
            click.echo(
                f"  {e.seq:3d}  {e.at.astimezone():%H:%M:%S}  {e.step_id}  {e.kind}{verdict}  "
                f"{e.value if e.value else ''}"
            )


@visits.command("handover")
@click.argument("visit_id")
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the form as an HTML file to print.",
)
@click.option(
    "--pdf",
    "pdf_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the form as a PDF (with the customer's signature image, if captured).",
)
@lang_option
@click.pass_context
def handover(
    ctx: click.Context, visit_id: str, html_path: Path | None, pdf_path: Path | None, lang: str
) -> None:
    """Print the handover form (设施交接单) for the customer to read and sign."""
    from fieldkit.records.handover import build_handover, handover_html, handover_text

    repo = _repo(ctx)
    form = build_handover(repo.database, _visit_id(repo, visit_id))
    click.echo(handover_text(form), nl=False)
    if pdf_path is not None:
        from fieldkit.records.handover_pdf import PdfError, PdfFontMissing, write_handover_pdf

        try:
            write_handover_pdf(form, pdf_path)
        except (PdfFontMissing, PdfError) as exc:
            fail(_("Error: {error}").format(error=exc))
        click.echo(_("Written to {path}").format(path=pdf_path))
    if html_path is not None:
        try:
            html_path.write_text(handover_html(form), encoding="utf-8")
        except OSError as exc:
            fail(
                _("Error: cannot write {path}: {error}").format(
                    path=html_path, error=exc.strerror or exc
                )
            )
        click.echo(_("Written to {path}").format(path=html_path))


@visits.command("outbox")
@json_option
@lang_option
@click.pass_context
def outbox(ctx: click.Context, as_json: bool, lang: str) -> None:
    """Closed visits and whether the back office has them."""
    repo = _repo(ctx)
    items = repo.outbox_items()
    if as_json:
        echo_json(
            [
                {
                    "item_id": str(i.id),
                    "visit_id": str(i.visit_id),
                    "state": i.state.value,
                    "attempts": i.attempts,
                    "last_error": i.last_error,
                    "content_hash": i.content_hash,
                    "created_at": i.created_at.isoformat(),
                    "sent_at": i.sent_at.isoformat() if i.sent_at else None,
                }
                for i in items
            ]
        )
        return
    waiting = repo.outbox_count()
    click.echo(_("{n} visit(s) waiting to be sent.").format(n=waiting))
    labels = {
        "pending": _("waiting"),
        "sent": _("sent"),
        "conflict": _("conflict: the server has a different version"),
        "failed": _("send failed, will retry"),
        "rejected": _("refused by the back office: set aside"),
    }
    for i in items:
        line = f"{i.visit_id.hex[:8]}  {labels[i.state.value]}  " + _("attempts {n}").format(
            n=i.attempts
        )
        if i.last_error:
            line += f"  ({i.last_error})"
        click.echo(line)

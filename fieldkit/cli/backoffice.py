"""``fieldkit serve``, ``fieldkit admin …`` and ``fieldkit sync``.

``sync`` is the laptop side and never imports FastAPI; ``serve`` and ``admin`` are the
back-office side and import the server package only when run.
"""

from __future__ import annotations

import os
import ssl
import sys
import unicodedata
from datetime import date
from pathlib import Path
from typing import Any

import click

from fieldkit.cli.common import echo_json, fail, json_option, lang_option
from fieldkit.i18n import _
from fieldkit.sync.schema import VISIT_TYPES

ENV_DB = "FIELDKIT_SERVER_DB"
LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")
MAX_LOGIN = 64  # a technician id (工号) as the laptop stores it


def _login_problem(value: str) -> str | None:
    """Why an account name (technician id) cannot be used, in the user's language."""
    if not value.strip():
        return _("must not be blank")
    if len(value) > MAX_LOGIN:
        return _("is longer than {n} characters").format(n=MAX_LOGIN)
    if any(ch.isspace() or unicodedata.category(ch).startswith("C") for ch in value):
        return _("must not contain spaces or control characters")
    return None


def _text_problem(value: str, limit: int = 200) -> str | None:
    """Why a one-line value (order number, customer number) cannot be used."""
    if not value.strip():
        return _("must not be blank")
    if len(value) > limit:
        return _("is longer than {n} characters").format(n=limit)
    if any(unicodedata.category(ch).startswith("C") for ch in value):
        return _("must not contain control characters")
    return None


def _server_db_url(value: str | None) -> str | None:
    """``--db`` as given: a URL, or a plain file path meaning a SQLite file (as ``visits
    --db`` takes one); a path was "Could not parse SQLAlchemy URL"."""
    if not value or "://" in value:
        return value
    return f"sqlite:///{Path(value).expanduser().resolve().as_posix()}"


def _check(option: str, problem: str | None) -> None:
    if problem:
        fail(_("Error: {option} {problem}").format(option=option, problem=problem))


def _check_tls_files(certfile: str | None, keyfile: str | None) -> None:
    if certfile is None and keyfile is None:
        return
    if certfile is None or keyfile is None:
        fail(_("Error: --ssl-certfile and --ssl-keyfile go together"))
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(certfile, keyfile)
    except (ssl.SSLError, OSError, ValueError) as exc:
        fail(_("Error: the certificate or key cannot be used for HTTPS: {error}").format(error=exc))


# ------------------------------------------------------------------------------ serve
@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=8765, show_default=True, type=click.IntRange(1, 65535), help="TCP port."
)
@click.option(
    "--db",
    "db_url",
    envvar=ENV_DB,
    default=None,
    help="Database URL (sqlite:///… or postgresql://…) or a SQLite file; also FIELDKIT_SERVER_DB.",
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Server processes (uvicorn workers).",
)
@click.option(
    "--ssl-certfile",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="TLS certificate (PEM) to serve HTTPS.",
)
@click.option(
    "--ssl-keyfile",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="The certificate's private key (PEM).",
)
@click.option(
    "--max-body",
    default=8 * 1024 * 1024,
    show_default=True,
    type=click.IntRange(1024),
    help="Largest request body in bytes (bigger: 413).",
)
@click.option(
    "--push-slots",
    envvar="FIELDKIT_SERVER_PUSH_SLOTS",
    default=2,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Push batches each worker stores at once (the others wait their turn).",
)
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(LOG_LEVELS),
    help="How much the server logs.",
)
@lang_option
def serve(
    host: str,
    port: int,
    db_url: str | None,
    workers: int,
    ssl_certfile: str | None,
    ssl_keyfile: str | None,
    max_body: int,
    push_slots: int,
    log_level: str,
    lang: str,
) -> None:
    """Run the back-office sync server (FastAPI under uvicorn)."""
    import uvicorn

    from fieldkit.sync.server import workers as server_workers
    from fieldkit.sync.server.db import ServerDatabaseError, default_url, open_server_database

    _check_tls_files(ssl_certfile, ssl_keyfile)
    url = _server_db_url(db_url) or default_url()
    try:
        engine = open_server_database(url, migrate=True)  # migrate once, before the workers
        engine.dispose()
    except ServerDatabaseError as exc:
        fail(_("Error: {error}").format(error=exc.localized()))
    os.environ[ENV_DB] = url
    os.environ["FIELDKIT_SERVER_MAX_BODY"] = str(max_body)
    os.environ["FIELDKIT_SERVER_PUSH_SLOTS"] = str(push_slots)
    options: dict[str, Any] = {
        "app": "fieldkit.sync.server.app:app_from_env",
        "factory": True,
        "host": host,
        "port": port,
        "ssl_certfile": ssl_certfile,
        "ssl_keyfile": ssl_keyfile,
        "log_level": log_level,
        "timeout_graceful_shutdown": 10,
    }
    if workers > 1 and server_workers.supported():
        # one listening socket per worker: connections spread evenly (see the module)
        try:
            server_workers.check_free(host, port)
        except OSError as exc:
            fail(_("Error: {error}").format(error=exc))
        raise SystemExit(server_workers.run(options, host, port, workers))
    uvicorn.run(**options, workers=workers)


# ------------------------------------------------------------------------------ admin
def _missing_sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL when it does not exist (a mistyped --db), else None."""
    import sqlalchemy as sa

    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        return None  # open_server_database says what is wrong with it
    if not parsed.drivername.startswith("sqlite") or parsed.database in (None, "", ":memory:"):
        return None
    path = Path(parsed.database)
    return None if path.exists() else path


def _engine(ctx: click.Context, *, create: bool = False) -> Any:
    """The server database, migrated. Only the commands that set a server up (init-db and
    the account enrolments, ``create=True``) create a missing SQLite file: listing users or
    assigning an order on a mistyped path is an error, not a new empty database."""
    from fieldkit.sync.server.db import ServerDatabaseError, default_url, open_server_database

    url = ctx.obj["db_url"] or default_url()
    missing = None if create else _missing_sqlite_file(url)
    if missing is not None:
        fail(
            _(
                "Error: there is no server database at {path}; check the path "
                "(`fieldkit admin init-db` creates one). Nothing was created."
            ).format(path=missing)
        )
    try:
        engine = open_server_database(url, migrate=True)
    except ServerDatabaseError as exc:
        fail(_("Error: {error}").format(error=exc.localized()))
    ctx.call_on_close(engine.dispose)
    return engine


def _service_call(func: Any, *args: Any, **kwargs: Any) -> Any:
    from fieldkit.sync.server.auth import AuthError
    from fieldkit.sync.server.service import ServiceError

    try:
        return func(*args, **kwargs)
    except (AuthError, ServiceError) as exc:
        fail(_("Error: {error}").format(error=exc.localized()))


@click.group()
@click.option("--db", "db_url", envvar=ENV_DB, default=None, help="Server database URL.")
@lang_option
@click.pass_context
def admin(ctx: click.Context, db_url: str | None, lang: str) -> None:
    """Back-office administration: accounts, device tokens, work orders."""
    ctx.ensure_object(dict)
    ctx.obj["db_url"] = _server_db_url(db_url)


@admin.command("init-db")
@click.pass_context
def init_db(ctx: click.Context) -> None:
    """Create or upgrade the server database."""
    _engine(ctx, create=True)
    click.echo(_("The server database is up to date."))


def _print_token(login: str, token_id: str, token: str) -> None:
    click.echo(
        _("Token for {login} (id {id}) — shown only once, keep it safe:").format(
            login=login, id=token_id
        )
    )
    click.echo(token)


def _enrol(ctx: click.Context, login: str, role: str, name: str | None, label: str | None) -> None:
    """Create the account, issue its first token and print the token once."""
    from fieldkit.sync.server import auth

    _check(_("the account name"), _login_problem(login))
    for option, value in (("--name", name), ("--label", label)):
        if value is not None:
            _check(option, _text_problem(value))

    engine = _engine(ctx, create=True)
    _service_call(auth.create_account, engine, login, role, name)
    token_id, token = _service_call(auth.issue_token, engine, login, label)
    _print_token(login, token_id, token)


@admin.command("add-technician")
@click.argument("technician_id")
@click.option("--name", default=None, help="The technician's name.")
@click.option("--label", default=None, help="Which device the token is for.")
@click.pass_context
def add_technician(
    ctx: click.Context, technician_id: str, name: str | None, label: str | None
) -> None:
    """Enrol a technician (工号) and print their device token once."""
    _enrol(ctx, technician_id, "technician", name, label)


@admin.command("add-admin")
@click.argument("login")
@click.option("--name", default=None, help="The account holder's name.")
@click.pass_context
def add_admin(ctx: click.Context, login: str, name: str | None) -> None:
    """Create a back-office (admin) account and print its token once."""
    _enrol(ctx, login, "admin", name, None)


@admin.command("new-token")
@click.argument("login")
@click.option("--label", default=None, help="Which device the token is for.")
@click.pass_context
def new_token(ctx: click.Context, login: str, label: str | None) -> None:
    """Issue another token for an account (a new laptop); printed once."""
    from fieldkit.sync.server import auth

    token_id, token = _service_call(auth.issue_token, _engine(ctx), login, label)
    _print_token(login, token_id, token)


@admin.command("revoke")
@click.argument("token_id", required=False)
@click.option("--all-of", "login", default=None, help="Revoke every token of this account.")
@click.pass_context
def revoke(ctx: click.Context, token_id: str | None, login: str | None) -> None:
    """Revoke a token by its id (see `admin users`), or all tokens of an account."""
    from fieldkit.sync.server import auth

    engine = _engine(ctx)
    if login:
        n = _service_call(auth.revoke_all, engine, login)
        click.echo(_("Revoked {n} token(s) of {login}.").format(n=n, login=login))
    elif token_id:
        _service_call(auth.revoke_token, engine, token_id)
        click.echo(_("Token {id} revoked.").format(id=token_id))
    else:
        fail(_("Error: give a token id or --all-of LOGIN"))


@admin.command("users")
@json_option
@click.pass_context
def users(ctx: click.Context, as_json: bool) -> None:
    """List accounts and their tokens (ids only; tokens are never shown again)."""
    from fieldkit.sync.server import auth

    accounts = auth.list_accounts(_engine(ctx))
    if as_json:
        echo_json(accounts)
        return
    from fieldkit.cli.lookup import Printer

    out = Printer()
    rows = [[_("Account"), _("Role"), _("Token"), _("State"), _("Name / device")]]
    for a in accounts:
        role = _("admin") if a["role"] == "admin" else _("technician")
        rows.append([str(a["login"]), role, "", "", str(a["name"] or "")])
        for tk in a["tokens"]:  # type: ignore[union-attr]
            state = _("revoked") if tk["revoked"] else _("active")
            rows.append(["", "", str(tk["id"]), state, str(tk["label"] or "")])
    out.table(rows, indent=0)
    out.echo()


@admin.command("add-work-order")
@click.option("--order-no", required=True, help="Work order number.")
@click.option(
    "--type",
    "visit_type",
    required=True,
    type=click.Choice(VISIT_TYPES),
    help="What the visit is for.",
)
@click.option("--customer-no", required=True, help="户号")
@click.option("--name", default=None, help="The customer's name.")
@click.option("--phone", default=None, help="The customer's phone number.")
@click.option("--community", default=None, help="小区")
@click.option("--building", default=None, help="楼栋")
@click.option("--unit", default=None, help="单元")
@click.option("--floor", default=None, help="楼层")
@click.option("--room", default=None, help="房号")
@click.option("--address", "detail", default=None, help="Free address text.")
@click.option("--assign", "assigned_to", required=True, help="Technician id (工号).")
@click.option(
    "--date",
    "scheduled_for",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="The day the visit is due (YYYY-MM-DD).",
)
@click.option("--notes", default=None, help="Notes for the technician.")
@click.pass_context
def add_work_order(ctx: click.Context, **opts: Any) -> None:
    """Create a work order and assign it to a technician."""
    from pydantic import ValidationError

    from fieldkit.sync.schema import Address, CustomerPayload
    from fieldkit.sync.server import service

    for option, key in (("--order-no", "order_no"), ("--customer-no", "customer_no")):
        _check(option, _text_problem(opts[key]))
    _check("--assign", _login_problem(opts["assigned_to"]))
    opts["order_no"] = opts["order_no"].strip()
    opts["customer_no"] = opts["customer_no"].strip()
    try:
        customer = CustomerPayload(
            customer_no=opts["customer_no"],
            name=opts["name"],
            phone=opts["phone"],
            address=Address(
                community=opts["community"],
                building=opts["building"],
                unit=opts["unit"],
                floor=opts["floor"],
                room=opts["room"],
                detail=opts["detail"],
            ),
        )
    except ValidationError as exc:
        from fieldkit.errortext import describe_error

        problems = "; ".join(
            f"--{'.'.join(str(p) for p in e['loc'][-1:]).replace('_', '-')} {describe_error(e)}"
            for e in exc.errors()
        )
        fail(_("Error: {error}").format(error=problems))
    when: date | None = opts["scheduled_for"].date() if opts["scheduled_for"] else None
    order = service.NewWorkOrder(
        order_no=opts["order_no"],
        visit_type=opts["visit_type"],
        customer=customer,
        assigned_to=opts["assigned_to"],
        scheduled_for=when,
        notes=opts["notes"],
    )
    (order_id,) = _service_call(service.create_work_orders, _engine(ctx), None, [order])
    click.echo(_("Work order {no} created ({id}).").format(no=opts["order_no"], id=order_id))


@admin.command("assign")
@click.argument("order")
@click.argument("technician_id")
@click.pass_context
def assign(ctx: click.Context, order: str, technician_id: str) -> None:
    """Give a work order to another technician."""
    from fieldkit.sync.server import service

    _service_call(service.assign_work_order, _engine(ctx), None, order, technician_id)
    click.echo(_("Work order {no} assigned to {tech}.").format(no=order, tech=technician_id))


@admin.command("cancel")
@click.argument("order")
@click.pass_context
def cancel(ctx: click.Context, order: str) -> None:
    """Cancel a work order (technicians' laptops drop it at their next sync)."""
    from fieldkit.sync.server import service

    _service_call(service.cancel_work_order, _engine(ctx), None, order)
    click.echo(_("Work order {no} cancelled.").format(no=order))


@admin.command("restored")
@click.pass_context
def restored(ctx: click.Context) -> None:
    """Run after restoring the server database from a backup: laptops then fetch every work
    order again and drop those the restored database does not have."""
    from fieldkit.sync.server import service

    epoch = _service_call(
        service.mark_restored,
        _engine(ctx),
    )
    click.echo(_("Restore recorded; the server's epoch is now {epoch}.").format(epoch=epoch))
    click.echo(
        _(
            "Tokens revoked after the backup was taken are valid again: revoke them once "
            "more (fieldkit admin revoke)."
        )
    )


# ------------------------------------------------------------------------------- sync
@click.command()
@click.option("--server", "server_url", default=None, help="Server URL (else from settings).")
@click.option("--token", default=None, help="Device token (else from settings).")
@click.option("--insecure", is_flag=True, default=False, help="Skip TLS checks (testing only).")
@click.option(
    "--ca-bundle",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="CA certificates (PEM) to trust for the server's HTTPS.",
)
@click.option("--db", "db_url", default=None, help="The laptop's visit database URL.")
@click.option("--once", is_flag=True, help="One attempt per request: do not wait and retry.")
@click.option("--max-attempts", type=click.IntRange(1), default=None, help="Give up after N.")
@click.option("--push-only", is_flag=True, help="Only push closed visits; pull nothing.")
@click.option("--pull-only", is_flag=True, help="Only pull work orders; push nothing.")
@json_option
@lang_option
def sync(
    server_url: str | None,
    token: str | None,
    insecure: bool,
    ca_bundle: Path | None,
    db_url: str | None,
    once: bool,
    max_attempts: int | None,
    push_only: bool,
    pull_only: bool,
    as_json: bool,
    lang: str,
) -> None:
    """Push closed visits to the back office and pull work orders.

    Exit status: 0 all done, 1 stopped by an error, 3 conflicts kept on this laptop or
    visits set aside because the back office refused them.
    """
    if push_only and pull_only:
        fail(_("Error: --push-only and --pull-only cannot be used together"), 2)
    from fieldkit.config import ConfigError, load_settings
    from fieldkit.records.db import DatabaseError, open_database
    from fieldkit.sync.client import SyncError, SyncProgress, make_http_client, sync_once

    try:
        settings = load_settings(
            server_url=server_url,
            token=token,
            insecure=insecure or None,
            ca_bundle=ca_bundle,
            db_url=db_url,
        )
        # Server URL, token and CA bundle are checked before the database is touched:
        # a wrong flag is named as such, not hidden behind a database message.
        make_http_client(settings).close()
        database = open_database(settings.resolved_db_url(), create=settings.is_default_db())
    except (ConfigError, DatabaseError, SyncError) as exc:
        fail(_("Error: {error}").format(error=exc))

    def progress(p: SyncProgress) -> None:
        if as_json:
            return
        if p.phase == "retry":
            click.echo(
                _("Attempt {n} failed ({error}); retrying in {s:.1f} s").format(
                    n=p.attempt, error=p.message, s=p.retry_in
                ),
                err=True,
            )
        elif p.phase == "push" and p.to_push:
            click.echo(_("Sent {done} of {total}").format(done=p.pushed, total=p.to_push), err=True)

    try:
        report = sync_once(
            settings,
            database,
            progress,
            max_attempts=1 if once else max_attempts,
            push=not pull_only,
            pull=not push_only,
        )
    except SyncError as exc:
        fail(_("Error: {error}").format(error=exc))
    except KeyboardInterrupt:
        fail(_("Interrupted; unsent visits stay in the outbox."), 130)
    finally:
        database.close()
    if as_json:
        echo_json(
            {
                "pushed": report.pushed,
                "duplicates": report.duplicates,
                "conflicts": [[str(v), d] for v, d in report.conflicts],
                "failed": (
                    [str(report.failed[0]) if report.failed[0] else None, report.failed[1]]
                    if report.failed
                    else None
                ),
                "rejected": [[str(v), d] for v, d in report.rejected],
                "server_errors": [[str(v), d] for v, d in report.server_errors],
                "pulled": report.pulled,
                "cancelled": report.cancelled,
                "epoch_changed": report.epoch_changed,
                "dropped": report.dropped,
                "waiting": report.waiting,
            }
        )
    else:
        click.echo(
            _(
                "Sent {pushed} (already there: {dup}); work orders updated: {pulled} "
                "(cancelled: {cancelled}); still waiting: {waiting}"
            ).format(
                pushed=report.pushed,
                dup=report.duplicates,
                pulled=report.pulled,
                cancelled=report.cancelled,
                waiting=report.waiting,
            )
        )
        if report.epoch_changed:
            click.echo(
                _(
                    "The back office's database was replaced or restored: every work order "
                    "was fetched again; {n} that no longer exist there were removed."
                ).format(n=report.dropped),
                err=True,
            )
        for visit_id, detail in report.rejected:
            click.echo(
                _("Set aside, refused by the back office: visit {id}: {detail}").format(
                    id=visit_id, detail=detail
                ),
                err=True,
            )
        for visit_id, detail in report.server_errors:
            click.echo(
                _("Not sent, will be retried: visit {id}: {detail}").format(
                    id=visit_id, detail=detail
                ),
                err=True,
            )
        for visit_id, detail in report.conflicts:
            click.echo(
                _("Conflict, kept on this laptop: visit {id}: {detail}").format(
                    id=visit_id, detail=detail
                ),
                err=True,
            )
        if report.failed:
            visit_id, error = report.failed
            if visit_id:
                stopped = _("Stopped at visit {id}: {error}").format(id=visit_id, error=error)
            else:
                stopped = _("Sync stopped: {error}").format(error=error)
            click.echo(stopped, err=True)
    if report.failed or report.server_errors:
        sys.exit(1)
    if report.conflicts or report.rejected:
        sys.exit(3)


def _register_console_commands() -> None:
    from fieldkit.cli.staff import add_staff

    admin.add_command(add_staff)


_register_console_commands()

"""The ``fieldkit`` click group (every command line with arguments; see :mod:`fieldkit.cli`).

Subcommands live in their own modules and are imported only when used, so a lookup such
as ``fieldkit code ERR-1`` never imports Textual, FastAPI or SQLAlchemy.
"""

from __future__ import annotations

import importlib

import click

from fieldkit import i18n
from fieldkit.cli.clicktext import LocalizedContext, localize_click, localize_command

# command name → "module:attribute" (a click command or group)
LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    "code": ("fieldkit.cli.faultcodes:code", "Decode a fault code (ERR-1, E0, …)"),
    "search": ("fieldkit.cli.faultcodes:search", "Search symptoms across every fault table"),
    "cards": ("fieldkit.cli.toolcards:cards", "Explain the utility's tool cards"),
    "conduct": ("fieldkit.cli.conductcmd:conduct", "Service conduct: 五个一, 文明用语 / 忌语"),
    "data": ("fieldkit.cli.datacheck:data", "Check every kind of data table a utility edits"),
    "meter": ("fieldkit.cli.devices:meter", "Read a gas meter over serial (CJ/T 188)"),
    "card": ("fieldkit.cli.devices:card", "Read an IC card through a card reader"),
    "ports": ("fieldkit.cli.devices:ports", "List serial ports"),
    "emulate": ("fieldkit.cli.devices:emulate", "Run a meter or card-reader emulator"),
    "visits": ("fieldkit.cli.records:visits", "Visit records kept on this laptop"),
    "sync": (
        "fieldkit.cli.backoffice:sync",
        "Push visits to and pull work orders from the back office",
    ),
    "serve": ("fieldkit.cli.backoffice:serve", "Run the back-office sync server"),
    "admin": (
        "fieldkit.cli.backoffice:admin",
        "Back-office administration (technicians, work orders)",
    ),
    "tui": ("fieldkit.cli.app:tui", "Open the technician's TUI (the default)"),
}


class LazyGroup(click.Group):
    context_class = LocalizedContext

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*LAZY_COMMANDS, *super().list_commands(ctx)})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        command = super().get_command(ctx, name)
        if command is not None or name not in LAZY_COMMANDS:
            return command
        target, _help = LAZY_COMMANDS[name]
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
            return localize_command(getattr(module, attr))
        except (ImportError, AttributeError) as exc:
            # A half-installed command must not take the whole CLI down with it.
            return _broken_command(name, target, exc)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Help text from the table, so `fieldkit --help` imports nothing heavy.
        rows = [(name, LAZY_COMMANDS[name][1]) for name in sorted(LAZY_COMMANDS)]
        with formatter.section(i18n.gettext("Commands")):
            formatter.write_dl(rows)


def _broken_command(name: str, target: str, exc: Exception) -> click.Command:
    @click.command(name=name, context_settings={"ignore_unknown_options": True})
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def broken(args: tuple[str, ...]) -> None:
        raise click.ClickException(f"command '{name}' is unavailable ({target}): {exc}")

    return broken


def _set_language(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is not None:
        i18n.set_language(value)
    return value


@click.group(cls=LazyGroup, invoke_without_command=True)
@click.option(
    "--lang",
    type=click.Choice(sorted(i18n.LANGUAGES)),
    default=None,
    is_eager=True,
    callback=_set_language,
    help="Interface language: zh (default) or en; also the 'language' setting.",
)
@click.option(
    "--demo",
    is_flag=True,
    help="Open the TUI with demo work orders and emulated meter and card reader.",
)
@click.option("--db", "db_url", default=None, help="Visit database for the TUI (file or URL).")
@click.option(
    "--create-db", is_flag=True, help="Create the --db database if it does not exist yet."
)
@click.version_option(package_name="fieldkit")
@click.pass_context
def cli(
    ctx: click.Context, lang: str | None, demo: bool, db_url: str | None, create_db: bool
) -> None:
    """fieldkit — 燃气售后现场工具 / the gas technician's field toolkit.

    Without a command it opens the technician's TUI.
    """
    if ctx.invoked_subcommand is None:
        tui = ctx.command.get_command(ctx, "tui")  # type: ignore[attr-defined]
        ctx.invoke(tui, lang=lang, demo=demo, db_url=db_url, create_db=create_db)
    elif demo or db_url or create_db:
        raise click.UsageError(
            i18n.gettext("--demo and --db open the TUI; give them without a command."), ctx
        )


def _prepare_language() -> None:
    """click's words through our catalogs, in the language of --help and of option errors
    before any option is parsed (--lang, processed first, and the full settings refine it)."""
    from fieldkit.configfile import peek_language

    localize_click()
    i18n.set_language(peek_language())


def run(argv: list[str] | None) -> int:
    """Run the click group on ``argv`` (None: the process's arguments); the exit code."""
    try:
        _prepare_language()
        cli.main(args=argv, prog_name="fieldkit", standalone_mode=True)
    except SystemExit as exc:
        return int(exc.code or 0) if not isinstance(exc.code, str) else 1
    return 0

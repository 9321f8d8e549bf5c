"""The ``fieldkit`` command. With no arguments it opens the technician's TUI.

Subcommands live in their own modules and are imported only when used, so a lookup such
as ``fieldkit code ERR-1`` never imports Textual, FastAPI or SQLAlchemy.
"""

from __future__ import annotations

import contextlib
import importlib
import sys

import click

# command name → "module:attribute" (a click command or group)
LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    "code": ("fieldkit.cli.lookup:code", "Decode a fault code (ERR-1, E0, …)"),
    "search": ("fieldkit.cli.lookup:search", "Search symptoms across every fault table"),
    "cards": ("fieldkit.cli.lookup:cards", "Explain the utility's tool cards"),
    "conduct": ("fieldkit.cli.lookup:conduct", "Service conduct: 五个一, 文明用语 / 忌语"),
    "data": ("fieldkit.cli.lookup:data", "Check data tables (fault codes, cards, procedures)"),
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


# Options of the default command: `fieldkit --demo` means `fieldkit tui --demo`.
TUI_OPTIONS = ("--demo", "--lang", "--db")


class LazyGroup(click.Group):
    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0].split("=", 1)[0] in TUI_OPTIONS:
            args = ["tui", *args]
        return super().parse_args(ctx, args)

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
            return getattr(module, attr)
        except (ImportError, AttributeError) as exc:
            # A half-installed command must not take the whole CLI down with it.
            return _broken_command(name, target, exc)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Help text from the table, so `fieldkit --help` imports nothing heavy.
        rows = [(name, LAZY_COMMANDS[name][1]) for name in sorted(LAZY_COMMANDS)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _broken_command(name: str, target: str, exc: Exception) -> click.Command:
    @click.command(name=name, context_settings={"ignore_unknown_options": True})
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def broken(args: tuple[str, ...]) -> None:
        raise click.ClickException(f"command '{name}' is unavailable ({target}): {exc}")

    return broken


@click.group(cls=LazyGroup, invoke_without_command=True)
@click.version_option(package_name="fieldkit")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """fieldkit — 燃气售后现场工具 / the gas technician's field toolkit."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(ctx.command.get_command(ctx, "tui"))  # type: ignore[union-attr]


def safe_console() -> None:
    """Output degrades, never raises: a console or pipe that cannot encode Chinese or "m³"
    (GBK, cp1252, a redirected Windows console) gets replacement characters instead of a
    UnicodeEncodeError."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is None:
            continue
        # a closed or unusual stream is left as it is
        with contextlib.suppress(ValueError, OSError):
            reconfigure(errors="replace")


def main(argv: list[str] | None = None) -> int:
    safe_console()
    try:
        cli.main(args=argv, prog_name="fieldkit", standalone_mode=True)
    except SystemExit as exc:
        return int(exc.code or 0) if not isinstance(exc.code, str) else 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

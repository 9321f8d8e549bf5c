"""``fieldkit --help`` in the user's language, the TUI options listed; --db never invents a database."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import click
import pytest

from fieldkit.cli import LAZY_COMMANDS, cli
from tests.cli.helpers import run_fieldkit

CJK = re.compile(r"[\u4e00-\u9fff]")
# Three English words in a row: an untranslated sentence (option names and URLs excepted).
ENGLISH_RUN = re.compile(r"(?<![-\w/.:])[A-Za-z]{2,}(?: [A-Za-z']{2,}){2,}")


def english_sentences(text: str) -> list[str]:
    return [m.group(0) for m in ENGLISH_RUN.finditer(text)]


def test_top_level_help_lists_the_tui_options_in_chinese() -> None:
    done = run_fieldkit("--help")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for option in ("--demo", "--lang", "--db", "--version"):
        assert option in out
    assert "用法：" in out and "命令" in out
    assert english_sentences(out) == []
    for name in LAZY_COMMANDS:
        assert re.search(rf"^  {name} +\S*{CJK.pattern}", out, re.M), name


def test_help_in_english_with_lang_en() -> None:
    done = run_fieldkit("--lang", "en", "--help")
    assert "Usage:" in done.stdout
    assert "Show this message and exit." in done.stdout
    for chinese in ("用法", "选项", "命令", "显示本帮助", "界面语言", "解释故障代码"):
        assert chinese not in done.stdout


def every_command() -> list[list[str]]:
    ctx = click.Context(cli)
    paths: list[list[str]] = []

    def walk(command: click.Command, path: list[str]) -> None:
        paths.append(path)
        if isinstance(command, click.Group):
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                assert sub is not None
                walk(sub, [*path, name])

    for name in sorted(LAZY_COMMANDS):
        sub = cli.get_command(ctx, name)
        assert sub is not None
        walk(sub, [name])
    return paths


def test_every_commands_help_is_chinese(tmp_path: Path) -> None:
    commands = every_command()
    assert len(commands) > 20
    # One interpreter for all of them (a subprocess each would take a minute on CI).
    script = tmp_path / "helps.py"
    script.write_text(
        "import sys, json\n"
        "from click.testing import CliRunner\n"
        "from fieldkit import i18n\n"
        "from fieldkit.cli import cli\n"
        "from fieldkit.cli.clicktext import localize_click\n"
        "localize_click(); i18n.set_language('zh')\n"
        "out = {}\n"
        "for path in json.loads(sys.argv[1]):\n"
        "    r = CliRunner().invoke(cli, [*path, '--help'], prog_name='fieldkit')\n"
        "    out[' '.join(path)] = (r.exit_code, r.output)\n"
        "print(json.dumps(out, ensure_ascii=False))\n",
        encoding="utf-8",
    )
    import json
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, str(script), json.dumps(commands)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=True,
    )
    helps = json.loads(done.stdout)
    problems = {}
    for name, (code, text) in helps.items():
        assert code == 0, (name, text)
        assert "用法：" in text, name
        # the one-line help and every option's help are translated
        body = "\n".join(line for line in text.splitlines() if not line.startswith("用法："))
        found = english_sentences(body)
        if found:
            problems[name] = found
    assert problems == {}


def test_a_mistyped_database_path_is_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "x.db"
    done = run_fieldkit("visits", "--db", str(missing), "list")
    assert done.returncode == 1
    assert str(missing) in done.stderr
    assert "没有上门记录数据库" in done.stderr
    assert not missing.parent.exists()
    done = run_fieldkit("visits", "--db", f"sqlite:///{missing.as_posix()}", "list", "--lang", "en")
    assert "There is no visit database" in done.stderr
    assert not missing.parent.exists()
    done = run_fieldkit("visits", "list", env={"FIELDKIT_DB_URL": f"sqlite:///{missing}"})
    assert done.returncode == 1 and not missing.parent.exists()


def test_an_existing_database_and_the_default_one_open(tmp_path: Path, isolated_home: Path) -> None:
    from fieldkit.records.db import open_database

    path = tmp_path / "backup.db"
    open_database(f"sqlite:///{path.as_posix()}").close()
    done = run_fieldkit("visits", "--db", str(path), "list", "--lang", "en")
    assert done.returncode == 0, done.stderr
    assert "No visits recorded yet." in done.stdout
    # The default database in the user data dir is created on first use.
    done = run_fieldkit("visits", "list", "--lang", "en")
    assert done.returncode == 0, done.stderr
    default = isolated_home / "data" / "fieldkit.db"
    assert default.is_file()
    with sqlite3.connect(default) as conn:
        assert conn.execute("SELECT count(*) FROM alembic_version").fetchone() == (1,)


@pytest.mark.parametrize("args", [["--demo", "code", "ERR-1"], ["--db", "x.db", "visits", "list"]])
def test_tui_options_with_a_command_are_an_error(args: list[str]) -> None:
    done = run_fieldkit(*args)
    assert done.returncode == 2
    assert "--demo" in done.stderr and "Traceback" not in done.stderr


def test_the_tui_refuses_a_missing_database_unless_asked_to_create_it(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "x.db"
    for args in (["--db", str(missing)], ["tui", "--db", f"sqlite:///{missing.as_posix()}"]):
        done = run_fieldkit(*args, "--lang", "en") if args[0] == "tui" else run_fieldkit(*args)
        assert done.returncode == 1, done.stderr
        assert str(missing) in done.stderr and "--create-db" in done.stderr
        assert "Traceback" not in done.stderr
        assert not missing.parent.exists()
    done = run_fieldkit("tui", "--db", "postgresql://office/fieldkit", "--lang", "en")
    assert done.returncode == 1 and "must be SQLite" in done.stderr


def test_every_option_has_a_help_text() -> None:
    """`--help` explains every option (sync's --push-only, serve's --ssl-certfile, the
    emulators' options had none: a bare option name in a Chinese help page)."""
    missing = []
    ctx = click.Context(cli)

    def walk(command: click.Command, path: list[str]) -> None:
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden and not param.help:
                missing.append(" ".join([*path, param.opts[0]]))
        if isinstance(command, click.Group):
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                assert sub is not None
                walk(sub, [*path, name])

    walk(cli, ["fieldkit"])
    assert missing == []

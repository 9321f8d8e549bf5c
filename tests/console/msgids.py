"""The console's msgids: ``_("…")`` in its templates, user-facing messages in its Python
modules (``UserError``/``c._``/``_``), list headings and code labels."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import fieldkit.console as console_pkg
from fieldkit.console import actions, flags, lists
from fieldkit.console.labels import all_msgids
from fieldkit.i18n import source_msgids

PACKAGE = Path(console_pkg.__file__).parent
TEMPLATE_CALL = re.compile(r"""_\(\s*(?:"([^"]+)"|'([^']+)')\s*\)""")
KWARG_MSGIDS = ("q_label",)
MESSAGE_CALLS = ("UserError", "FilterError", "fail", "_")


def template_msgids() -> set[str]:
    found: set[str] = set()
    for path in (PACKAGE / "templates").glob("*.html"):
        text = path.read_text(encoding="utf-8")
        for a, b in TEMPLATE_CALL.findall(text):
            found.add(a or b)
        for name in KWARG_MSGIDS:
            found.update(re.findall(name + r'="([^"]+)"', text))
    return found


def python_msgids() -> set[str]:
    found: set[str] = set()
    for path in PACKAGE.glob("*.py"):
        found.update(source_msgids(path, markers=MESSAGE_CALLS))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            # c._("…") and t("…") calls, and dict values mapping codes to msgids
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute | ast.Name)
                and getattr(node.func, "attr", getattr(node.func, "id", "")) in ("_", "t", "fail")
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                found.add(node.args[0].value)
    cli = Path(console_pkg.__file__).parent.parent / "cli" / "staff.py"
    found.update(source_msgids(cli))
    return found


def all_console_msgids() -> set[str]:
    headings = {heading for spec in lists.ALL for _key, heading in spec.columns}
    service = set(actions.SERVICE_MESSAGES.values())
    service |= set(flags.BLOCKERS.values()) | set(flags.ROLES.values())
    return template_msgids() | python_msgids() | headings | service | set(all_msgids())

"""User-facing strings: gettext PO catalogs, Simplified Chinese by default.

Source strings (msgids) are English and live in the code wrapped in ``_()``; translations
live in ``fieldkit/locale/zh_CN/LC_MESSAGES/<domain>.po`` — one PO file per area
(``cli.po``, ``tui.po``, ``devices.po``, …), all merged into one catalog. PO files are read
directly (no compile step), so a utility can edit them with any PO editor.

Usage::

    from fieldkit.i18n import _, set_language
    set_language("en")
    print(_("Unknown code {code} for {device}").format(code=..., device=...))

Data tables (fault codes, tool cards, procedures) carry their own ``zh``/``en`` text and
do not go through gettext.
"""

from __future__ import annotations

import ast
import string
from functools import lru_cache
from importlib import resources
from pathlib import Path

LANGUAGES = {"zh": "zh_CN", "en": "en"}
DEFAULT_LANGUAGE = "zh"

_global_language = DEFAULT_LANGUAGE


class PoError(ValueError):
    """A PO file that cannot be parsed; the message names the file and line."""


def _unquote(token: str, path: Path, lineno: int) -> str:
    # Fast path for the common case (no escapes): literal_eval costs ~50 us a line, which
    # added tens of milliseconds to the TUI's cold start.
    if len(token) >= 2 and token[0] == token[-1] == '"' and "\\" not in token:
        inner = token[1:-1]
        if '"' not in inner:
            return inner
    try:
        value = ast.literal_eval(token)
    except (SyntaxError, ValueError) as exc:
        raise PoError(f"{path}:{lineno}: bad string {token!r}") from exc
    if not isinstance(value, str):
        raise PoError(f"{path}:{lineno}: expected a quoted string")
    return value


def parse_po(path: Path) -> dict[str, str]:
    """Parse one PO file into {msgid: msgstr}; untranslated and fuzzy entries are skipped."""
    entries: dict[str, str] = {}
    msgid: list[str] | None = None
    msgstr: list[str] | None = None
    current: list[str] | None = None
    fuzzy = False

    def flush() -> None:
        nonlocal msgid, msgstr, fuzzy
        if msgid is not None and msgstr is not None:
            key, value = "".join(msgid), "".join(msgstr)
            if key and value and not fuzzy:
                entries[key] = value
        msgid = msgstr = None
        fuzzy = False

    text = path.read_text(encoding="utf-8")
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            flush()
            current = None
            continue
        if line.startswith("#,") and "fuzzy" in line:
            flush()
            fuzzy = True
            continue
        if line.startswith("#"):
            continue
        if line.startswith("msgid "):
            if msgid is not None and msgstr is not None:
                keep_fuzzy = fuzzy
                flush()
                fuzzy = keep_fuzzy
            msgid = [_unquote(line[6:].strip(), path, lineno)]
            current = msgid
        elif line.startswith("msgstr "):
            msgstr = [_unquote(line[7:].strip(), path, lineno)]
            current = msgstr
        elif line.startswith('"'):
            if current is None:
                raise PoError(f"{path}:{lineno}: continuation line outside an entry")
            current.append(_unquote(line, path, lineno))
        elif line.startswith(("msgctxt", "msgid_plural", "msgstr[")):
            raise PoError(f"{path}:{lineno}: contexts and plurals are not used in fieldkit")
        else:
            raise PoError(f"{path}:{lineno}: unexpected line {raw!r}")
    flush()
    return entries


def locale_dir() -> Path:
    return Path(str(resources.files("fieldkit") / "locale"))


@lru_cache(maxsize=4)
def catalog(language: str) -> dict[str, str]:
    """All PO files of a language merged; English returns an empty catalog (msgids are English)."""
    code = LANGUAGES.get(language, language)
    folder = locale_dir() / code / "LC_MESSAGES"
    merged: dict[str, str] = {}
    if folder.is_dir():
        for po in sorted(folder.glob("*.po")):
            merged.update(parse_po(po))
    return merged


def set_language(language: str) -> None:
    """Set the process-wide language ("zh" or "en")."""
    global _global_language
    if language not in LANGUAGES:
        raise ValueError(f"unsupported language {language!r}; use one of {sorted(LANGUAGES)}")
    _global_language = language


def get_language() -> str:
    return _global_language


def gettext(message: str) -> str:
    language = get_language()
    if language == "en":
        return message
    return catalog(language).get(message, message)


_ = gettext


def ngettext(singular: str, plural: str, n: int) -> str:
    """The English form for ``n``, translated (Chinese has one form; both msgids are listed)."""
    return gettext(singular if n == 1 else plural)


def N_(message: str) -> str:
    """Mark a msgid for the catalogs without translating it yet (translate with ``_()`` later)."""
    return message


def source_msgids(path: Path, markers: tuple[str, ...] = ("_", "N_")) -> dict[str, int]:
    """The msgids a Python source file marks for translation → the line of first use.

    Every call ``_("literal")`` (or another of ``markers``, such as the engine's ``N_``)
    whose first argument is a string literal. For checking that a PO file is complete.
    """
    found: dict[str, int] = {}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in markers
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.setdefault(node.args[0].value, node.lineno)
    return found


def placeholders(message: str) -> list[str]:
    """The ``{field!conv:spec}`` of a message, sorted; its translation must keep exactly these."""
    return sorted(
        name + (f"!{conv}" if conv else "") + (f":{spec}" if spec else "")
        for _text, name, spec, conv in string.Formatter().parse(message)
        if name is not None
    )


def pick(text: dict[str, str] | object, language: str | None = None) -> str:
    """Choose the language from a bilingual value ({"zh": …, "en": …} or a model with zh/en)."""
    language = language or get_language()
    if isinstance(text, dict):
        return text.get(language) or text.get("zh") or text.get("en") or ""
    value = getattr(text, language, None) or getattr(text, "zh", None) or getattr(text, "en", "")
    return str(value or "")

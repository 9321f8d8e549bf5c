"""One language at a time: a Chinese screen or message never carries an untranslated
English sentence, and a visit is always 上门.

* every msgid marked in the code (``_()`` / ``N_()``) has a non-empty Chinese translation
  that keeps its placeholders; no PO entry is empty or fuzzy;
* the main CLI commands, run in Chinese, print no English sentence;
* one word for a visit across the catalogs: 上门, never 到访.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from fieldkit.i18n import catalog, locale_dir, parse_po, placeholders, source_msgids

ROOT = Path(__file__).resolve().parents[1]
PO_DIR = locale_dir() / "zh_CN" / "LC_MESSAGES"
# Three English words in a row (after removing what is meant to stay as typed).
ENGLISH_RUN = re.compile(r"(?<![-\w/.:'])[A-Za-z]?[a-z][a-z']*(?:[ ,]+[A-Za-z]?[a-z][a-z']*){2,}")
KEEP = [
    re.compile(r"fieldkit(?: [a-z-]+)*"),  # commands a user types
    re.compile(r"--[a-z-]+(?: [A-Z_]+)?"),  # options
    re.compile(r"\[[A-Z_|a-z\]\[ .]+\]"),  # usage metavars: [OPTIONS] [COMMAND] [ARGS]
    re.compile(r"[a-z]+://\S*"),  # URLs
    re.compile(r"\S+\.(?:yaml|toml|db|py)\b"),  # file names
]


def english_sentences(text: str) -> list[str]:
    for pattern in KEEP:
        text = pattern.sub(" ", text)
    return [m.group(0) for m in ENGLISH_RUN.finditer(text)]


def test_the_checker_itself_finds_english() -> None:
    assert english_sentences("错误：No such option here") == ["No such option here"]
    assert english_sentences("用法： fieldkit visits list [OPTIONS]") == []
    assert english_sentences("服务器 https://office.example/api/v1 不可用") == []


def code_msgids() -> dict[str, str]:
    found: dict[str, str] = {}
    for path in sorted((ROOT / "fieldkit").rglob("*.py")):
        if "versions" in path.parts:
            continue
        for msgid, line in source_msgids(path).items():
            found.setdefault(msgid, f"{path.relative_to(ROOT)}:{line}")
    return found


def test_every_marked_string_has_a_chinese_translation() -> None:
    zh = catalog("zh")
    ids = code_msgids()
    assert len(ids) > 500
    missing = sorted(f"{where}: {msgid!r}" for msgid, where in ids.items() if msgid not in zh)
    assert missing == []
    for msgid, where in ids.items():
        assert placeholders(zh[msgid]) == placeholders(msgid), where


def test_no_po_entry_is_empty_or_fuzzy() -> None:
    for po in sorted(PO_DIR.glob("*.po")):
        text = po.read_text(encoding="utf-8")
        assert "#, fuzzy" not in text, po.name
        entries = re.findall(r'^msgid (".*")\nmsgstr (".*")$', text, re.MULTILINE)
        empty = [mid for mid, mstr in entries if mstr == '""' and mid != '""']
        assert empty == [], po.name
        assert parse_po(po), po.name


def test_one_word_for_a_visit() -> None:
    for po in sorted(PO_DIR.glob("*.po")):
        translated = "\n".join(parse_po(po).values())
        assert "到访" not in translated, po.name


def test_no_msgid_is_defined_twice_differently() -> None:
    seen: dict[str, tuple[str, str]] = {}
    for po in sorted(PO_DIR.glob("*.po")):
        for msgid, msgstr in parse_po(po).items():
            if msgid in seen:
                assert seen[msgid][1] == msgstr, (msgid, seen[msgid][0], po.name)
            seen[msgid] = (po.name, msgstr)


COMMANDS = [
    ["--help"],
    ["code", "ERR-1"],
    ["code", "NOPE"],
    ["code", "ERR-1", "--device", "nosuch"],
    ["search", "不显示"],
    ["cards"],
    ["cards", "回收转移卡"],
    ["conduct"],
    ["conduct", "五个一"],
    ["data", "check"],
    ["visits", "list"],
    ["visits", "outbox"],
    ["visits", "show", "abcd"],
    ["visits", "--db", "/no/such/dir/x.db", "list"],
    ["sync"],
    ["code"],
    ["code", "--bogus"],
    ["nosuch"],
]


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Each command's stdout + stderr, run in Chinese in one interpreter."""
    script = tmp_path_factory.mktemp("zh") / "run.py"
    script.write_text(
        "import json, sys\n"
        "from click.testing import CliRunner\n"
        "from fieldkit import i18n\n"
        "from fieldkit.cli import cli\n"
        "from fieldkit.cli.clicktext import localize_click\n"
        "localize_click()\n"
        "out = {}\n"
        "for args in json.loads(sys.argv[1]):\n"
        "    i18n.set_language('zh')\n"
        "    r = CliRunner().invoke(cli, args, prog_name='fieldkit')\n"
        "    out[' '.join(args)] = r.output\n"
        "print(json.dumps(out, ensure_ascii=False))\n",
        encoding="utf-8",
    )
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("FIELDKIT_")}
    env["FIELDKIT_HOME"] = str(tmp_path_factory.mktemp("zh-home"))
    env["COLUMNS"] = "200"
    done = subprocess.run(
        [sys.executable, str(script), json.dumps(COMMANDS)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        timeout=180,
        check=True,
    )
    return json.loads(done.stdout)


@pytest.mark.parametrize("args", [" ".join(c) for c in COMMANDS])
def test_chinese_cli_output_has_no_english_sentence(outputs: dict[str, str], args: str) -> None:
    text = outputs[args]
    assert text.strip(), args
    assert re.search(r"[\u4e00-\u9fff]", text), text
    assert english_sentences(text) == [], text

"""The lookup commands through click's CliRunner, and once as the installed program."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from fieldkit.cli import cli
from fieldkit.cli.lookup import Printer, cell_width, pad, wrap


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    # A wide terminal, so the assertions below do not depend on where lines wrap.
    monkeypatch.setenv("COLUMNS", "200")

    def invoke(*args: str, data: Path | None = None):  # type: ignore[no-untyped-def]
        if data is not None:
            monkeypatch.setenv("FIELDKIT_DATA", str(data))
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)

    return invoke


def as_json(result) -> dict:  # type: ignore[no-untyped-def]
    return json.loads(result.stdout)


# -- code ------------------------------------------------------------------------------
def test_code_finds_every_device(run) -> None:  # type: ignore[no-untyped-def]
    result = run("code", "ERR-1")
    assert result.exit_code == 0
    assert "[meihua-ic]" in result.stdout and "[meihua-mhcg]" in result.stdout
    assert "表周围有强磁干扰或防磁干簧管损坏" in result.stdout  # the manual's cause
    assert "手册：美华智能燃气表常见故障与排除方法，第8页，第8条" in result.stdout
    assert "症状：" in result.stdout  # Chinese by default


@pytest.mark.parametrize("typed", ["ERR—1", "ERR--1", "err1", "Err-1", "ＥＲＲ－１"])
def test_code_forgiving_input(run, typed: str) -> None:  # type: ignore[no-untyped-def]
    data = as_json(run("code", typed, "--json"))
    assert data["found"] is True
    assert [m["id"] for m in data["matches"]] == ["meihua-ic.08", "meihua-mhcg.07"]


def test_code_device_narrows(run) -> None:  # type: ignore[no-untyped-def]
    result = run("code", "ERR-1", "--device", "meihua-ic", "--json")
    assert result.exit_code == 0
    data = as_json(result)
    assert [m["id"] for m in data["matches"]] == ["meihua-ic.08"]
    match = data["matches"][0]
    assert match["device"]["key"] == "meihua-ic"
    assert match["causes"][0]["text"]["zh"] == "表周围有强磁干扰或防磁干簧管损坏"
    assert match["causes"][0]["text"]["en"]
    assert match["source"]["kind"] == "manual"
    assert match["source"]["page"] == 8
    assert match["source"]["label"] == "手册：美华智能燃气表常见故障与排除方法，第8页，第8条"


def test_code_e0(run) -> None:  # type: ignore[no-untyped-def]
    data = as_json(run("code", "e0", "--json"))
    assert "delfirman-boiler" in [m["device"]["key"] for m in data["matches"]]


def test_unknown_code_for_a_device(run) -> None:  # type: ignore[no-untyped-def]
    result = run("code", "ERR-10", "-d", "meihua-ic")
    assert result.exit_code == 1
    assert "ERR-10" in result.stderr
    assert "该设备（美华 智能燃气表 [meihua-ic]）没有这个代码" in result.stderr
    assert "ERR-1, ERR-3" in result.stderr
    assert "Traceback" not in result.output
    data = as_json(run("code", "ERR-10", "-d", "meihua-ic", "--json"))
    assert data["found"] is False
    assert data["known_codes"][:2] == ["ERR-1", "ERR-3"]


def test_unknown_code_anywhere_lists_codes_per_device(run) -> None:  # type: ignore[no-untyped-def]
    result = run("code", "XYZ-99")
    assert result.exit_code == 1
    assert "所有故障表中都没有这个代码" in result.stderr
    assert "meihua-ic" in result.stderr and "ERR-1" in result.stderr


def test_unknown_device_lists_valid_keys(run) -> None:  # type: ignore[no-untyped-def]
    result = run("code", "ERR-1", "--device", "meihua")
    assert result.exit_code == 2
    assert "未知设备 'meihua'" in result.stderr
    for key in ("meihua-ic", "meihua-mhcg", "qianfeng-ic"):
        assert key in result.stderr
    data = as_json(run("code", "ERR-1", "--device", "meihua", "--json"))
    assert data["error"] == "unknown_device"
    assert "meihua-ic" in data["valid_devices"]


def test_usage_error_exit_2(run) -> None:  # type: ignore[no-untyped-def]
    assert run("code").exit_code == 2
    assert run("code", "ERR-1", "--lang", "fr").exit_code == 2
    assert run("search").exit_code == 2


def test_english(run) -> None:  # type: ignore[no-untyped-def]
    result = run("code", "ERR-1", "-d", "meihua-ic", "--lang", "en")
    assert result.exit_code == 0
    assert "Symptom:" in result.stdout
    assert "Manual: 美华智能燃气表常见故障与排除方法, page 8, item 8" in result.stdout
    assert "Manual text: 液晶出现ERR—1显示" in result.stdout  # the Chinese as written too


def test_external_source_and_confidence_are_shown(run, fixture_root: Path) -> None:  # type: ignore[no-untyped-def]
    result = run("code", "al1", data=fixture_root)
    assert result.exit_code == 0
    assert "来源：service04.ru" in result.stdout
    assert "可信度：S（二手资料）" in result.stdout
    data = as_json(run("code", "AL 01", "--json", data=fixture_root))
    source = data["matches"][0]["source"]
    assert source["kind"] == "external"
    assert source["confidence"] == "S"
    assert source["confidence_label"] == "二手资料"
    assert "可信度：S（二手资料）" in source["label"]


def test_danger_entry_shows_emergency_first(run, fixture_root: Path) -> None:  # type: ignore[no-untyped-def]
    result = run("search", "红灯闪烁", "--full", "-d", "alarm-home", data=fixture_root)
    assert result.exit_code == 0
    out = result.stdout
    assert "紧急处置" in out
    assert out.index("紧急处置") < out.index("症状")
    assert out.index("打开所有门窗") < out.index("原因")
    data = as_json(run("search", "红灯闪烁", "--json", "-d", "alarm-home", data=fixture_root))
    entry = data["hits"][0]["entry"]
    assert list(entry)[:3] == ["id", "severity", "emergency"]
    assert entry["emergency"][0]["zh"] == "打开所有门窗，让气体散发室外"


def test_entry_id_shows_that_entry(run) -> None:  # type: ignore[no-untyped-def]
    result = run("code", "meihua-ic.01")
    assert result.exit_code == 0
    assert "控制器上电无显示或无反应" in result.stdout


# -- search ------------------------------------------------------------------------------
@pytest.mark.parametrize("query", [["不显示"], ["no", "display"], ["bxs"]])
def test_search(run, query: list[str]) -> None:  # type: ignore[no-untyped-def]
    result = run("search", *query, "--json")
    assert result.exit_code == 0
    data = as_json(result)
    symptoms = [h["entry"]["symptom"]["zh"] for h in data["hits"]]
    assert any("不显示" in s or "无显示" in s for s in symptoms[:3]), symptoms
    assert [h["rank"] for h in data["hits"]] == list(range(1, len(data["hits"]) + 1))
    scores = [h["score"] for h in data["hits"]]
    assert scores == sorted(scores, reverse=True)


def test_search_text_output_and_not_found(run) -> None:  # type: ignore[no-untyped-def]
    result = run("search", "不显示")
    assert result.exit_code == 0
    assert "液晶屏不显示" in result.stdout
    assert "控制器上电无显示" in result.stdout
    missing = run("search", "火箭发射")
    assert missing.exit_code == 1
    assert "火箭发射" in missing.stderr
    assert run("search", "不显示", "-d", "nope").exit_code == 2


def test_search_columns_align_by_display_width(run) -> None:  # type: ignore[no-untyped-def]
    result = run("search", "不显示")
    lines = [line for line in result.stdout.splitlines()[1:] if line[:1].isdigit()]
    assert len(lines) >= 2
    # The id column starts at the same terminal column on every row.
    columns = {cell_width(line[: line.index(id_)]) for line in lines for id_ in _ids(line)}
    assert len(columns) == 1, lines


def _ids(line: str) -> list[str]:
    return [word for word in line.split() if "." in word and word.split(".")[0].islower()][:1]


# -- cards -------------------------------------------------------------------------------
def test_cards_overview_and_family(run) -> None:  # type: ignore[no-untyped-def]
    overview = run("cards")
    assert overview.exit_code == 0
    for key in ("meihua-residential", "meihua-industrial", "qianfeng"):
        assert key in overview.stdout
    family = run("cards", "qianfeng")
    assert family.exit_code == 0
    assert "回收转移卡" in family.stdout and "总初始化卡" in family.stdout
    assert "生产状态" in family.stdout


def test_card_by_name_shows_states_and_what_it_destroys(run) -> None:  # type: ignore[no-untyped-def]
    result = run("cards", "回收转移卡")
    assert result.exit_code == 0
    assert "工作状态 -> 初始化状态" in result.stdout
    assert "初始化状态 -> 工作状态" in result.stdout
    init = run("cards", "初始化卡", "--json")
    data = as_json(init)
    meihua = next(c for c in data["cards"] if c["id"] == "meihua-residential.init")
    assert "换表补气卡" in meihua["destroys"]["zh"]
    assert meihua["source"]["label"].startswith("手册：美华工具卡使用说明，第12页")


def test_card_aliases_and_english(run) -> None:  # type: ignore[no-untyped-def]
    same_name = run("cards", "清零卡")
    assert same_name.exit_code == 0
    assert "meihua-residential.init" in same_name.stdout and "qianfeng.clear" in same_name.stdout
    assert "不同的卡" in same_name.stdout
    assert run("cards", "超级卡").exit_code == 0
    english = as_json(run("cards", "recovery/transfer card", "--json"))
    assert [c["id"] for c in english["cards"]] == ["qianfeng.recovery-transfer"]
    unknown = run("cards", "火箭卡")
    assert unknown.exit_code == 1
    assert "qianfeng" in unknown.stderr


# -- conduct -----------------------------------------------------------------------------
def test_conduct(run) -> None:  # type: ignore[no-untyped-def]
    result = run("conduct", "--json")
    assert result.exit_code == 0, result.output
    sections = as_json(result)["sections"]
    assert sections and all(s["items"] for s in sections)
    titles = [s["title"]["zh"] for s in sections]
    assert any("五个一" in t for t in titles), titles
    one = run("conduct", "五个一")
    assert one.exit_code == 0
    assert "戴上一副手套" in one.stdout
    assert run("conduct", "没有这一节").exit_code == 1


# data check: tests/cli/test_data_check.py
def test_cell_width_and_padding() -> None:
    assert cell_width("ERR-1") == 5
    assert cell_width("液晶屏") == 6
    assert cell_width("ＥＲＲ") == 6  # full width
    assert cell_width("，：") == 4
    assert cell_width(pad("美华", 10)) == 10
    assert pad("a very long text", 4) == "a very long text"


def test_wrap_breaks_chinese_anywhere_and_english_at_spaces() -> None:
    lines = wrap("液晶屏不显示" * 6, 20, indent=4)
    assert all(cell_width(line) <= 20 for line in lines)
    assert "".join(line.strip() for line in lines) == "液晶屏不显示" * 6
    assert all(line.startswith("    ") for line in lines[1:])
    english = wrap("check the battery plug for a poor contact", 16)
    assert all(cell_width(line) <= 16 for line in english)
    assert " ".join(line.strip() for line in english) == "check the battery plug for a poor contact"


def test_table_aligns_mixed_scripts() -> None:
    out = Printer(width=80)
    out.table([["meihua-ic", "美华 智能燃气表", "ERR-1"], ["flowmeter", "流量计", "SLEEP"]])
    starts = {
        cell_width(line[: line.index(code)])
        for line, code in zip(out.lines, ["ERR-1", "SLEEP"], strict=True)
    }
    assert len(starts) == 1


# -- the installed program -----------------------------------------------------------------
def _fieldkit_exe() -> Path:
    folder = Path(sys.executable).parent
    for name in ("fieldkit", "fieldkit.exe"):
        if (folder / name).exists():
            return folder / name
    raise AssertionError(f"fieldkit is not installed next to {sys.executable}")


def test_installed_fieldkit_code_json() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIELDKIT_DATA")}
    done = subprocess.run(
        [str(_fieldkit_exe()), "code", "ERR-1", "--json"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert [m["id"] for m in data["matches"]] == ["meihua-ic.08", "meihua-mhcg.07"]
    missing = subprocess.run(
        [str(_fieldkit_exe()), "code", "ERR-99", "-d", "meihua-ic"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        timeout=60,
    )
    assert missing.returncode == 1
    assert "Traceback" not in missing.stderr
    assert "ERR-99" in missing.stderr


def test_lookup_does_not_import_textual_or_servers() -> None:
    code = (
        "import sys\n"
        "from fieldkit.cli import main\n"
        "rc = main(['code', 'ERR-1', '--json'])\n"
        "rc2 = main(['search', 'bxs', '--json'])\n"
        "rc3 = main(['cards', '回收转移卡', '--json'])\n"
        "heavy = sorted(m for m in ('textual', 'rich', 'fastapi', 'sqlalchemy', 'uvicorn') "
        "if m in sys.modules)\n"
        "print('HEAVY=' + ','.join(heavy), file=sys.stderr)\n"
        "print('RC=%d%d%d' % (rc, rc2, rc3), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, encoding="utf-8", timeout=60
    )
    lines = done.stderr.splitlines()
    assert "RC=000" in lines, done.stderr
    assert "HEAVY=" in lines, done.stderr  # nothing after the '=': no heavy module loaded


def test_code_in_two_words_and_cause_notes(run, fixture_root: Path) -> None:  # type: ignore[no-untyped-def]
    # `fieldkit code AL 01` without quotes is the same as "AL 01".
    data = as_json(run("code", "AL", "01", "--json", data=fixture_root))
    assert [m["id"] for m in data["matches"]] == ["sime-boiler.al-01"]
    assert run("code", "  ").exit_code == 2


def test_cause_note_is_shown(run) -> None:  # type: ignore[no-untyped-def]
    from fieldkit.diagnostics.catalog import load_catalog_from
    from fieldkit.paths import shipped_data_dir

    catalog = load_catalog_from([shipped_data_dir()])
    with_note = [
        (e, c) for e in catalog.entries() for c in e.causes if c.note is not None and e.codes
    ]
    assert with_note, "the shipped SIME table gives causes without remedies, with a note"
    entry, cause = with_note[0]
    result = run("code", entry.codes[0], "-d", catalog.device_of(entry).key)
    assert cause.text.zh in result.stdout
    assert cause.note is not None and cause.note.zh in result.stdout


def test_card_shows_its_references_and_rules(run, fixture_root: Path) -> None:  # type: ignore[no-untyped-def]
    result = run("cards", "故障卡", data=fixture_root)
    assert result.exit_code == 0
    assert "参见：meihua-ic.08 液晶出现ERR—1显示" in result.stdout
    assert "可消除代码：ERR-1, ERR-3" in result.stdout


def test_card_shows_the_family_rules_that_refer_to_it(run, data_copy: Path) -> None:  # type: ignore[no-untyped-def]
    path = data_copy / "tool_cards" / "meihua-residential.yaml"
    text = path.read_text(encoding="utf-8")
    marker = "  - id: card-type\n"
    assert marker in text
    path.write_text(
        text.replace(marker, marker + "    see_also: [meihua-residential.gas-setting]\n"),
        encoding="utf-8",
    )
    with_rule = run("cards", "超级卡", data=data_copy)
    assert "规则：卡类型: 开户卡只能在新表中使用" in with_rule.stdout
    without = run("cards", "清零卡", data=data_copy)
    assert "规则：" not in without.stdout


@pytest.mark.parametrize("columns", [50, 80])
def test_output_fits_a_narrow_terminal(run, monkeypatch: pytest.MonkeyPatch, columns: int) -> None:  # type: ignore[no-untyped-def]
    for args in (
        ["code", "qianfeng-ic.01"],
        ["code", "ERR-3", "--lang", "en"],
        ["cards", "qianfeng"],
        *([["cards"]] if columns >= 80 else []),  # the overview's ids alone take 34 cells
    ):
        monkeypatch.setenv("COLUMNS", "200")
        wide = run(*args).stdout
        monkeypatch.setenv("COLUMNS", str(columns))
        result = run(*args)
        assert result.exit_code == 0
        for line in result.stdout.splitlines():
            if line.startswith("=="):
                continue  # headings are not wrapped
            # closing punctuation may hang over the edge by a character or two
            assert cell_width(line) <= columns + 4, line
        assert len(result.stdout.splitlines()) > len(wide.splitlines())  # it did wrap
        assert "".join(result.stdout.split()) == "".join(wide.split())  # and lost nothing


@pytest.mark.parametrize("columns", [80, 100])
@pytest.mark.parametrize(
    "query", [["bxs"], ["no display", "--lang", "en"], ["报警", "--lang", "en"]]
)
def test_search_table_fits_the_terminal_and_keeps_ids_whole(
    run, monkeypatch: pytest.MonkeyPatch, columns: int, query: list[str]
) -> None:  # type: ignore[no-untyped-def]
    hits = as_json(run("search", *query, "--json"))["hits"]
    assert hits
    monkeypatch.setenv("COLUMNS", str(columns))
    result = run("search", *query)
    assert result.exit_code == 0
    for line in result.stdout.splitlines():
        assert cell_width(line) <= columns + 2, line  # closing punctuation may hang over
    words = set(result.stdout.split())
    text = "".join(result.stdout.split())
    for hit in hits:
        entry = hit["entry"]
        assert entry["id"] in words  # an id is what the technician types next: never cut
        symptom = entry["symptom"]["en" if "en" in query else "zh"]
        assert "".join(symptom.split()) in text  # the symptom wraps but loses nothing


def test_a_device_named_without_a_brand_shows_its_family_alone(run) -> None:  # type: ignore[no-untyped-def]
    zh = run("code", "flowmeter.02").stdout.splitlines()[0]
    en = run("code", "flowmeter.02", "--lang", "en").stdout.splitlines()[0]
    assert zh.startswith("== 流量计(罗茨流量计、涡轮表) [flowmeter]"), zh
    assert en.startswith("== gas flow meter (Roots and turbine meters) [flowmeter]"), en
    assert "未注明" not in run("search", "不显示").stdout
    assert "Meihua smart gas meter" in run("code", "meihua-ic.08", "--lang", "en").stdout


def test_wrap_keeps_brackets_with_their_text() -> None:
    lines = wrap("可信度: S (二手资料) and more text here", 14)
    assert not any(line.rstrip().endswith("(") for line in lines)
    assert not any(line.lstrip().startswith((")", "，", "。")) for line in lines)


def test_an_unexpected_error_is_one_line(run, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    import fieldkit.diagnostics.catalog as catalog_module

    def broken() -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(catalog_module, "default_catalog", broken)
    result = run("code", "ERR-1")
    assert result.exit_code == 1
    assert result.stderr.strip() == "错误：RuntimeError: disk on fire"
    monkeypatch.setenv("FIELDKIT_DEBUG", "1")
    with pytest.raises(RuntimeError):
        run("search", "不显示")


def test_card_heading_names_the_card_as_printed_on_it(run) -> None:  # type: ignore[no-untyped-def]
    zh = [line for line in run("cards", "清零卡").stdout.splitlines() if line.startswith("==")]
    assert zh[0] == "== 初始化卡 (清零卡) [meihua-residential.init] =="
    en = run("cards", "清零卡", "--lang", "en").stdout
    assert "== initialisation card (初始化卡; 清零卡) [meihua-residential.init] ==" in en

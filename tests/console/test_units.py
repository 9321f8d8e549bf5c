"""Small pure parts of the console: page tokens, filters, configuration, export cells, roles."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest

from fieldkit.console import filters, paging, roles, web
from fieldkit.console.export import cell


def test_page_tokens_round_trip_and_refuse_garbage() -> None:
    values = [datetime(2026, 11, 23, 1, 30, tzinfo=UTC), uuid.uuid4(), date(2026, 1, 2), 7, "x"]
    assert paging.decode(paging.encode(values), 5) == values
    for bad in ("", "!!!", paging.encode([1, 2]), "A" * 600, "W3sieCI6IDF9XQ"):
        with pytest.raises(paging.PagingError):
            paging.decode(bad, 5)


def test_filters_refuse_what_they_cannot_use() -> None:
    f = filters.parse(
        {"date_from": "2026-11-01", "technician": " T001 ", "status": "open"}, ("open",)
    )
    assert (f.date_from, f.technician, f.status) == (date(2026, 11, 1), "T001", "open")
    assert ("status", "open") in f.query_items() and all(k != "exact" for k, _ in f.query_items())
    for params in (
        {"date_from": "yesterday"},
        {"date_to": "1999-12-31"},
        {"date_from": "2026-02-01", "date_to": "2026-01-01"},
        {"outcome": "exploded"},
        {"status": "closed"},
        {"q": "x" * 201},
    ):
        with pytest.raises(filters.FilterError):
            filters.parse(params, ("open",))


def test_configuration_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    config = web.config_from_env()
    assert (str(config.tz), config.language, config.secure_cookies) == (
        "Asia/Shanghai",
        "zh",
        "auto",
    )
    monkeypatch.setenv(web.ENV_TZ, "Europe/Berlin")
    monkeypatch.setenv(web.ENV_LANG, "en")
    assert str(web.config_from_env().tz) == "Europe/Berlin"
    for name, value in (
        (web.ENV_TZ, "Mars/Olympus"),
        (web.ENV_LANG, "fr"),
        (web.ENV_SECURE, "yes"),
    ):
        monkeypatch.setenv(name, value)
        with pytest.raises(SystemExit):
            web.config_from_env()
        monkeypatch.delenv(name)


def test_export_cells_never_become_formulas() -> None:
    fmt = lambda d: d.isoformat()  # noqa: E731
    assert cell("=1+1", fmt) == "'=1+1" and cell("+86 138", fmt) == "'+86 138"
    assert cell("@SUM(A1)", fmt) == "'@SUM(A1)" and cell("-2", fmt) == "'-2"
    assert cell("张三", fmt) == "张三" and cell(3.5, fmt) == 3.5 and cell(None, fmt) == ""
    assert cell({"b": 1, "a": "x"}, fmt) == '{"a": "x", "b": 1}'


def test_roles() -> None:
    assert roles.allowed("admin", "audit.view") and not roles.allowed("supervisor", "audit.view")
    assert roles.allowed("dispatcher", "work_orders.edit")
    assert not roles.allowed("service", "work_orders.edit")
    with pytest.raises(KeyError):
        roles.allowed("admin", "no.such.permission")


def test_the_console_reads_its_own_catalog_first() -> None:
    zh = web.translator("zh")
    assert zh("Building unit") == "单元"  # not 单位 (a measurement's unit, another catalog)
    assert zh("Work orders") == "工单" and web.translator("en")("Work orders") == "Work orders"


def test_flag_reasons_in_the_readers_language() -> None:
    from zoneinfo import ZoneInfo

    from fieldkit.console.flags import explain
    from fieldkit.console.hazards import allowed_actions

    zh, en, tz = web.translator("zh"), web.translator("en"), ZoneInfo("Asia/Shanghai")
    step = (
        "ignition run 5f0c2a9e-0000-4000-8000-000000000001: step light-stove (ignition) done at "
        "2026-03-02T08:18:00+00:00 while closed by: refusal_stands, tightness_missing"
    )
    text = explain("gas_in_after_refusal", step, zh, tz)
    assert "light-stove" in text and "2026-03-02 16:18:00" in text  # Asia/Shanghai
    assert "已判定不予通气且未解除" in text and "未做严密性试验" in text
    assert "although gas was refused" in explain("gas_in_after_refusal", step, en, tz)
    closed = "closed as completed while closed by: hazard_open"
    assert "重大隐患尚未整改" in explain("completed_while_blocked", closed, zh, tz)
    assert "KeyError" in explain("audit_failed", "KeyError: x", zh, tz)
    # a detail this console cannot read is shown as stored, never dropped
    assert explain("ignition_without_gates", "something new", zh, tz) == "something new"
    assert explain("a_future_kind", "detail", zh, tz) == "detail"
    assert allowed_actions("pending") == ("notified", "rechecking", "fixed")
    assert allowed_actions("rechecking") == ("notified", "fixed")
    assert allowed_actions("fixed") == ()

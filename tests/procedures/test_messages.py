"""The engine's messages: every one translated, placeholders intact, Chinese by default."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import fieldkit.procedures.engine as engine_module
from fieldkit.i18n import parse_po, placeholders, set_language, source_msgids
from fieldkit.procedures.engine import GateClosed, StepOutOfOrder
from fieldkit.procedures.models import Procedure
from tests.procedures.procedure_helpers import FakeClock, start

PO = Path(engine_module.__file__).parents[1] / "locale" / "zh_CN" / "LC_MESSAGES" / "procedures.po"


def msgids() -> list[str]:
    return list(source_msgids(Path(engine_module.__file__)))


def test_every_engine_message_has_a_chinese_translation() -> None:
    catalog = parse_po(PO)
    ids = msgids()
    assert len(ids) > 40
    missing = [m for m in ids if m not in catalog]
    assert missing == []
    for msgid in ids:
        assert placeholders(catalog[msgid]) == placeholders(msgid), msgid
        assert re.search(r"[\u4e00-\u9fff]", catalog[msgid]), msgid


def test_errors_speak_chinese_by_default(shipped: dict[str, Procedure], clock: FakeClock) -> None:
    run = start(shipped["ignition"], clock)
    with pytest.raises(StepOutOfOrder, match="不是当前步骤") as excinfo:
        run.answer("alarm-cutoff-test", "yes")
    assert "点火前严密性试验" in str(excinfo.value)  # the step's title, not its id
    set_language("en")
    try:
        with pytest.raises(StepOutOfOrder, match="is not the current step"):
            run.answer("alarm-cutoff-test", "yes")
        with pytest.raises(GateClosed, match="refusal-condition"):
            run.refuse("x")
    finally:
        set_language("zh")

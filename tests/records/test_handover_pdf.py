"""The handover form as a PDF: real fpdf2 with the CJK font the project installs, checked
with poppler's pdftotext / pdftoppm / pdfimages (installed by scripts/install-pdf)."""

from __future__ import annotations

import io
import shutil
import subprocess
import uuid
from datetime import UTC
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image, ImageDraw

from fieldkit.cli import cli
from fieldkit.i18n import set_language
from fieldkit.procedures.models import Procedure
from fieldkit.records.db import Database
from fieldkit.records.handover import build_handover, handover_sections
from fieldkit.records.handover_pdf import (
    FONT_ENV,
    PdfFontMissing,
    find_cjk_font,
    render_handover_pdf,
)
from tests.records.handover_helpers import make_visit, shipped_procedures

POPPLER = ("pdftotext", "pdftoppm", "pdfimages")


@pytest.fixture(scope="module", autouse=True)
def poppler() -> None:
    missing = [tool for tool in POPPLER if shutil.which(tool) is None]
    assert not missing, f"{missing} missing: run bash scripts/install-pdf (poppler-utils)"


@pytest.fixture(scope="module")
def procedures() -> dict[str, Procedure]:
    return shipped_procedures()


def _signature_png() -> bytes:
    image = Image.new("RGB", (300, 120), "white")
    draw = ImageDraw.Draw(image)
    draw.line([(10, 90), (80, 20), (150, 100), (290, 30)], fill="black", width=6)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def visit(db: Database, procedures: dict[str, Procedure]) -> uuid.UUID:
    return make_visit(db, procedures, signature_png=_signature_png())


def _text(pdf: Path) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout


def test_the_pdf_says_what_the_form_says_in_chinese(
    db: Database, visit: uuid.UUID, tmp_path: Path
) -> None:
    form = build_handover(db, visit)
    pdf = tmp_path / "form.pdf"
    pdf.write_bytes(render_handover_pdf(form, tz=UTC))
    assert pdf.read_bytes().startswith(b"%PDF-")
    text = " ".join(_text(pdf).split())
    for heading, lines in handover_sections(form, tz=UTC):
        assert heading in text
        for line in lines:
            # pdftotext may break a long line where the PDF wraps it: compare word runs.
            assert " ".join(line.split())[:18] in text, line
    for expected in (
        "燃气设施交接单",
        "[不适用] 报警器与电磁阀切断测试",
        "[不合格] 点火前严密性试验",
        "[已维修] 点火前严密性试验",
        "表钢号*：QF-NEW-2",
        "最终读数 1234.5 m³",
        "用户签字：张三",
    ):
        assert expected in text, expected


def test_page_one_renders_with_the_signature_image(
    db: Database, visit: uuid.UUID, tmp_path: Path
) -> None:
    pdf = tmp_path / "form.pdf"
    pdf.write_bytes(render_handover_pdf(build_handover(db, visit), tz=UTC))
    subprocess.run(
        ["pdftoppm", "-png", "-r", "40", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "p")],
        check=True,
        capture_output=True,
    )
    (page,) = list(tmp_path.glob("p-*1.png"))
    with Image.open(page) as image:
        gray = image.convert("L")
        assert gray.size[0] > 200 and gray.size[1] > 300
        dark = sum(gray.histogram()[:128])
    assert dark > 500  # text was drawn, not a blank page
    images = subprocess.run(
        ["pdfimages", "-list", str(pdf)], check=True, capture_output=True, text=True
    ).stdout.splitlines()[2:]
    assert len(images) >= 1  # the drawn signature (and its alpha mask, if any)


def test_english_pdf_and_no_signature(
    db: Database, procedures: dict[str, Procedure], tmp_path: Path
) -> None:
    visit = make_visit(db, procedures)
    set_language("en")
    try:
        data = render_handover_pdf(build_handover(db, visit), tz=UTC)
    finally:
        set_language("zh")
    target = tmp_path / "en.pdf"
    target.write_bytes(data)
    text = " ".join(_text(target).split())
    assert "Gas facility handover form" in text
    assert "[not applicable] Gas alarm and solenoid valve cut-off test" in text
    images = subprocess.run(
        ["pdfimages", "-list", str(target)], check=True, capture_output=True, text=True
    ).stdout.splitlines()[2:]
    assert images == []


def test_font_override_and_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    font = find_cjk_font()
    monkeypatch.setenv(FONT_ENV, str(font))
    assert find_cjk_font(candidates=()) == font
    monkeypatch.setenv(FONT_ENV, str(tmp_path / "nope.ttf"))
    with pytest.raises(PdfFontMissing, match=FONT_ENV):
        find_cjk_font()
    monkeypatch.delenv(FONT_ENV)
    with pytest.raises(PdfFontMissing, match="fonts-wqy-microhei"):
        find_cjk_font(candidates=(tmp_path / "none.ttc",))


def test_cli_writes_the_pdf(
    db: Database, visit: uuid.UUID, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{(tmp_path / 'visits' / 'fieldkit.db').as_posix()}"
    out = tmp_path / "交接单.pdf"
    runner = CliRunner()
    result = runner.invoke(cli, ["visits", "--db", url, "handover", str(visit), "--pdf", str(out)])
    assert result.exit_code == 0, result.output
    assert f"已写入 {out}" in result.output or str(out) in result.output
    assert "燃气设施交接单" in _text(out)
    # No font: one clear line in the user's language, no traceback, no file left behind.
    monkeypatch.setenv(FONT_ENV, str(tmp_path / "missing.ttc"))
    bad = tmp_path / "bad.pdf"
    result = runner.invoke(cli, ["visits", "--db", url, "handover", str(visit), "--pdf", str(bad)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output and FONT_ENV in result.output
    assert "错误" in result.output
    assert not bad.exists() and not bad.with_name("bad.pdf.part").exists()
    # An unwritable target: a clear error too.
    monkeypatch.delenv(FONT_ENV)
    target = tmp_path / "no-such-dir" / "x.pdf"
    result = runner.invoke(
        cli, ["visits", "--db", url, "handover", str(visit), "--pdf", str(target)]
    )
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert str(target) in result.output


def test_the_back_office_pdf_from_a_pushed_visit_has_the_signature(
    db: Database, visit: uuid.UUID, tmp_path: Path
) -> None:
    from fieldkit.records.handover import handover_from_payload
    from fieldkit.records.repo import VisitRepository
    from fieldkit.sync.schema import VisitPayload

    item = VisitRepository(db).close_visit(visit, "completed")
    form = handover_from_payload(VisitPayload.model_validate(item.payload))
    assert form.signature_png is not None and form.signature_png.startswith(b"\x89PNG")
    pdf = tmp_path / "server.pdf"
    pdf.write_bytes(render_handover_pdf(form, tz=UTC))
    assert "[不适用] 报警器与电磁阀切断测试" in " ".join(_text(pdf).split())
    images = subprocess.run(
        ["pdfimages", "-list", str(pdf)], check=True, capture_output=True, text=True
    ).stdout.splitlines()[2:]
    assert images


def test_an_unreadable_signature_image_is_said_not_hidden(
    db: Database, procedures: dict[str, Procedure], tmp_path: Path
) -> None:
    visit = make_visit(db, procedures)
    form = build_handover(db, visit)
    form.signature_png = b"\x89PNG\r\n\x1a\n" + b"broken" * 10
    pdf = tmp_path / "broken.pdf"
    pdf.write_bytes(render_handover_pdf(form, tz=UTC))
    assert "（签名图片无法读取）" in _text(pdf)

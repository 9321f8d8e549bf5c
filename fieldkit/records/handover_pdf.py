"""The handover form (设施交接单) as a PDF, in the reader's language (Chinese by default).

It renders the same :func:`~fieldkit.records.handover.handover_sections` as the text and
HTML forms, so the three never disagree, and places the customer's drawn signature (a PNG)
under the signature line when one was captured.

Chinese needs a CJK font. fieldkit never downloads one: it uses a font installed on the
machine (``scripts/test`` installs Debian's ``fonts-wqy-microhei``), found through
:data:`FONT_ENV` or the list :data:`KNOWN_FONTS`; when none is there
:class:`PdfFontMissing` says so and how to fix it.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable
from datetime import tzinfo
from pathlib import Path
from typing import TYPE_CHECKING

from fieldkit.i18n import _
from fieldkit.records.handover import HandoverForm, handover_sections

if TYPE_CHECKING:
    from fpdf import FPDF

FONT_ENV = "FIELDKIT_PDF_FONT"
"""Environment variable naming a TrueType/OpenType font file (.ttf, .otf or .ttc) with CJK."""

KNOWN_FONTS: tuple[Path, ...] = (
    # Debian / Ubuntu: fonts-wqy-microhei (installed by scripts/test), fonts-noto-cjk, …
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"),
    # Fedora / Arch
    Path("/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/wqy-microhei/wqy-microhei.ttc"),
    # Windows (Microsoft YaHei, SimHei, SimSun)
    Path("C:/Windows/Fonts/msyh.ttc"),
    Path("C:/Windows/Fonts/simhei.ttf"),
    Path("C:/Windows/Fonts/simsun.ttc"),
    # macOS
    Path("/System/Library/Fonts/STHeiti Light.ttc"),
    Path("/Library/Fonts/Arial Unicode.ttf"),
)
FONT_SUFFIXES = (".ttf", ".otf", ".ttc")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
FONT_FAMILY = "fieldkit-cjk"


class PdfFontMissing(Exception):
    """No CJK font file could be found (or the one named cannot be used)."""


class PdfError(Exception):
    """The PDF could not be written (a clear, translated message)."""


def find_cjk_font(candidates: Iterable[Path] = KNOWN_FONTS) -> Path:
    """The font file to draw Chinese with: ``$FIELDKIT_PDF_FONT`` if set, else the first of
    ``candidates`` that exists. Raises :class:`PdfFontMissing` with what to do."""
    named = os.environ.get(FONT_ENV, "").strip()
    if named:
        path = Path(named).expanduser()
        if not path.is_file():
            raise PdfFontMissing(
                _("{var} names {path}, which is not a font file that exists.").format(
                    var=FONT_ENV, path=path
                )
            )
        if path.suffix.lower() not in FONT_SUFFIXES:
            raise PdfFontMissing(
                _("{var} names {path}; a .ttf, .otf or .ttc font file is needed.").format(
                    var=FONT_ENV, path=path
                )
            )
        return path
    for path in candidates:
        if path.is_file():
            return path
    raise PdfFontMissing(
        _(
            "No Chinese (CJK) font was found for the PDF. Install one (Debian/Ubuntu: "
            "apt-get install fonts-wqy-microhei) or set {var} to a .ttf/.otf/.ttc font file."
        ).format(var=FONT_ENV)
    )


def render_handover_pdf(
    form: HandoverForm,
    tz: tzinfo | None = None,
    *,
    font: Path | None = None,
) -> bytes:
    """The handover form of ``form`` as PDF bytes, in the current UI language.

    ``tz`` is the time zone the dates are printed in (the machine's by default); ``font``
    a CJK font file (default: :func:`find_cjk_font`). The sections are
    :func:`~fieldkit.records.handover.handover_sections`, exactly as the text and HTML
    forms show them; the customer's signature image (PNG) is drawn under the signature
    line when one was captured. Raises :class:`PdfFontMissing` when no CJK font is found.
    Used by ``fieldkit visits handover ID --pdf FILE`` and by the back office's download.
    """
    from fpdf import FPDF
    from fpdf.enums import XPos, YPos

    font_path = font or find_cjk_font()
    title = _("Gas facility handover form")

    class _Form(FPDF):
        def footer(self) -> None:
            self.set_y(-12)
            self.set_font(FONT_FAMILY, size=8)
            self.set_text_color(110)
            self.cell(
                0,
                6,
                _("Page {page} of {pages}").format(page=self.page_no(), pages="{nb}"),
                align="C",
            )

    pdf = _Form(format="A4", unit="mm")
    pdf.set_title(title)
    pdf.set_creator("fieldkit")
    pdf.set_margins(18, 16, 18)
    pdf.set_auto_page_break(auto=True, margin=18)
    try:
        pdf.add_font(FONT_FAMILY, fname=str(font_path))
    except Exception as exc:  # fontTools' many errors: the file is not a usable font
        raise PdfFontMissing(
            _("The font {path} cannot be used for the PDF: {error}").format(
                path=font_path, error=exc
            )
        ) from exc
    pdf.add_page()
    width = pdf.epw

    pdf.set_font(FONT_FAMILY, size=18)
    pdf.cell(width, 11, title, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)
    signature_heading = _("Signature")
    procedure_prefix = _("Procedure: {procedure}").split("{", 1)[0]
    for heading, lines in handover_sections(form, tz):
        if pdf.will_page_break(20):
            pdf.add_page()
        pdf.set_font(FONT_FAMILY, size=13)
        pdf.set_text_color(0)
        pdf.cell(width, 8, heading, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        y = pdf.get_y()
        pdf.set_draw_color(150)
        pdf.line(pdf.l_margin, y, pdf.l_margin + width, y)
        pdf.ln(1.5)
        pdf.set_font(FONT_FAMILY, size=10.5)
        for line in lines:
            if line.startswith(procedure_prefix):  # a procedure's own lines follow
                pdf.set_font(FONT_FAMILY, size=11.5)
                pdf.ln(1)
                pdf.multi_cell(width, 7, line, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
                pdf.set_font(FONT_FAMILY, size=10.5)
                continue
            pdf.multi_cell(width, 6, line, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        if heading == signature_heading and form.signature_png:
            _draw_signature(pdf, form.signature_png, width)
        pdf.ln(3)
    return bytes(pdf.output())


def _draw_signature(pdf: FPDF, png: bytes, width: float) -> None:
    """The drawn signature under its line, at most 70 × 30 mm; a line saying so if the
    stored image cannot be read (the form is still printed)."""
    from fpdf.enums import XPos, YPos

    if not png.startswith(PNG_MAGIC):
        pdf.multi_cell(width, 6, _("(the signature image cannot be read)"))
        return
    try:
        if pdf.will_page_break(32):
            pdf.add_page()
        pdf.image(io.BytesIO(png), w=70, h=30, keep_aspect_ratio=True)
    except Exception:  # a PNG that Pillow/fpdf cannot decode
        pdf.multi_cell(
            width,
            6,
            _("(the signature image cannot be read)"),
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )


def write_handover_pdf(
    form: HandoverForm, path: Path, tz: tzinfo | None = None, *, font: Path | None = None
) -> Path:
    """Write the PDF to ``path`` (through a temporary file, so a failure leaves no half
    file). Raises :class:`PdfFontMissing` or :class:`PdfError` with a clear message."""
    data = render_handover_pdf(form, tz, font=font)
    tmp = path.with_name(path.name + ".part")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise PdfError(
            _("Cannot write the PDF to {path}: {error}").format(
                path=path, error=exc.strerror or exc
            )
        ) from exc
    return path

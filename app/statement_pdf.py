"""A statement of account as a PDF: A4, the same figures and lines as its page, drawn straight onto the page with
ReportLab, so 10,000 entries render in about a second and a few tens of MB (HTML-to-PDF engines took a minute and
gigabytes for that many table rows).

The text is DejaVu Sans (Debian's fonts-dejavu-core), which covers the names of most scripts; where it is missing
the standard Helvetica is used, and characters it cannot show print as "?".
"""

import io
from pathlib import Path

from flask import Response
from reportlab.lib.colors import Color
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from app.formatting import money
from app.services.ageing import BUCKETS
from app.services.statements import PeriodStatement

FONT_FOLDER = Path("/usr/share/fonts/truetype/dejavu")
WIDTH, HEIGHT = A4
MARGIN = 16 * mm
LINE = 11.5  # points between the baselines of two table lines
INK, MUTED = Color(0.12, 0.14, 0.18), Color(0.42, 0.45, 0.5)
RULE, BAND = Color(0.84, 0.86, 0.89), Color(0.96, 0.97, 0.98)
#: The table's columns: heading, right edge (or left edge for text), alignment.
COLUMNS = (("Date", MARGIN, "left"), ("Item", MARGIN + 52, "left"), ("Due", MARGIN + 272, "left"),
           ("Charges", MARGIN + 372, "right"), ("Credits", MARGIN + 442, "right"), ("Balance", WIDTH - MARGIN, "right"))


def _fonts() -> tuple[str, str]:
    regular, bold = FONT_FOLDER / "DejaVuSans.ttf", FONT_FOLDER / "DejaVuSans-Bold.ttf"
    if not (regular.exists() and bold.exists()):
        return "Helvetica", "Helvetica-Bold"
    if "DejaVuSans" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont("DejaVuSans", str(regular)))
        pdfmetrics.registerFont(TTFont("DejaVuSans-Bold", str(bold)))
    return "DejaVuSans", "DejaVuSans-Bold"


def statement_pdf(shown: PeriodStatement) -> bytes:
    """The statement as the bytes of a PDF document."""
    out = io.BytesIO()
    _Document(out, shown).draw()
    return out.getvalue()


def file_name(shown: PeriodStatement) -> str:
    return f"statement-{shown.account.id}-{shown.start:%Y%m%d}-{shown.end:%Y%m%d}.pdf"


def statement_download(shown: PeriodStatement) -> Response:
    """The statement as a PDF download, named for its line and period (the pages' and the API's)."""
    return Response(statement_pdf(shown), mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{file_name(shown)}"'})


class _Document:
    def __init__(self, out, shown: PeriodStatement):
        self.shown, self.currency = shown, shown.account.currency
        self.regular, self.bold = _fonts()
        self.canvas = _NumberedCanvas(out, pagesize=A4, footer=self._footer, pageCompression=1)
        account = shown.account
        self.canvas.setTitle(f"Statement of account {shown.start:%Y-%m-%d} to {shown.end:%Y-%m-%d}")
        self.canvas.setAuthor(account.wholesaler.name)
        self.canvas.setSubject(f"{account.retailer.name} with {account.wholesaler.name}")

    def draw(self) -> None:
        y = self._first_page_head()
        y = self._table_head(y)
        for line in self.shown.lines:
            extra = self._paid_lines(line)
            if y - LINE * (1 + len(extra)) < MARGIN + 14:
                self.canvas.showPage()
                y = self._table_head(HEIGHT - MARGIN)
            y = self._line(y, line, extra)
        if y - 2 * LINE < MARGIN + 14:
            self.canvas.showPage()
            y = HEIGHT - MARGIN - LINE
        self._rule(y + LINE - 4)
        self._text(COLUMNS[1][1], y - 2, f"Closing balance on {self.shown.end:%d %B %Y}"
                   + ("" if self.shown.lines else " (no entries in this period)"), bold=True)
        self._text(COLUMNS[5][1], y - 2, money(self.shown.closing_balance), bold=True, align="right")
        self.canvas.save()

    # --- Parts of the page ----------------------------------------------------------------------------------

    def _first_page_head(self) -> float:
        shown, account = self.shown, self.shown.account
        top = HEIGHT - MARGIN
        self._text(MARGIN, top - 14, "Statement of account", size=17, bold=True)
        self._text(MARGIN, top - 32, f"{account.retailer.name}", size=10, bold=True)
        self._text(MARGIN, top - 45, f"Credit line with {account.wholesaler.name}, in {self.currency}", colour=MUTED)
        self._text(WIDTH - MARGIN, top - 14, account.wholesaler.name, size=10, bold=True, align="right")
        self._text(WIDTH - MARGIN, top - 28, f"{shown.start:%d %B %Y} to {shown.end:%d %B %Y}", align="right")
        self._text(WIDTH - MARGIN, top - 41, f"Days in {account.wholesaler.time_zone}", colour=MUTED, align="right")
        figures = [("Opening balance", shown.opening_balance), ("Charges", shown.charged),
                   ("Credits", shown.credited), ("Closing balance", shown.closing_balance),
                   ("Unapplied credit", shown.unapplied_credit)]
        y = top - 62
        self._band(y, 38)
        step = (WIDTH - 2 * MARGIN) / len(figures)
        for i, (label, amount) in enumerate(figures):
            x = MARGIN + 8 + i * step
            self._text(x, y - 13, label, size=7.5, colour=MUTED)
            self._text(x, y - 28, money(amount), size=11, bold=label == "Closing balance")
        y -= 54
        self._text(MARGIN, y, f"Owed at the end of {shown.end:%d %B %Y}, by days past due", size=7.5, colour=MUTED)
        y -= 14
        step = (WIDTH - 2 * MARGIN) / (len(BUCKETS) + 1)
        for i, (label, amount) in enumerate([*shown.ageing.buckets.items(), ("Total", shown.ageing.total)]):
            x = MARGIN + i * step
            self._text(x, y, "Not yet due" if label == "current" else label if label == "Total" else f"{label} days",
                       size=7.5, colour=MUTED)
            self._text(x, y - 12, money(amount), bold=label == "Total")
        return y - 30

    def _table_head(self, y: float) -> float:
        for heading, x, align in COLUMNS:
            self._text(x, y - 9, heading, size=7.5, bold=True, colour=MUTED, align=align)
        self._rule(y - 13)
        y -= 13 + LINE
        if self.canvas.getPageNumber() == 1:  # the opening balance heads the lines
            self._text(COLUMNS[1][1], y, f"Opening balance on {self.shown.start:%d %B %Y}", colour=MUTED)
            self._text(COLUMNS[5][1], y, money(self.shown.opening_balance), align="right")
            y -= LINE
        return y

    def _line(self, y: float, line, extra: list[str]) -> float:
        item_width = COLUMNS[2][1] - COLUMNS[1][1] - 8
        self._text(MARGIN, y, line.on.isoformat())
        self._text(COLUMNS[1][1], y, self._fit(line.description, item_width))
        if line.due_date:
            self._text(COLUMNS[2][1], y, line.due_date.isoformat())
        self._text(COLUMNS[3 if line.amount > 0 else 4][1], y, money(abs(line.amount)), align="right")
        self._text(COLUMNS[5][1], y, money(line.balance_after), align="right")
        for text in extra:
            y -= LINE
            self._text(COLUMNS[1][1] + 8, y, text, size=7, colour=MUTED)
        return y - LINE

    def _paid_lines(self, line) -> list[str]:
        """A credit's "paid …" note, wrapped to the width of the item and due columns."""
        if not line.paid:
            return []
        width = COLUMNS[3][1] - 60 - COLUMNS[1][1]
        parts = [f"{'#' + str(order_id) if order_id else 'an adjustment'} {money(amount)}"
                 for order_id, amount in line.paid]
        lines, current = [], "paid"
        for part in parts:
            candidate = f"{current} {part}," if current else f"{part},"
            if pdfmetrics.stringWidth(candidate, self.regular, 7) > width and current not in ("", "paid"):
                lines.append(current)
                candidate = f"{part},"
            current = candidate
        return [*lines, current.rstrip(",")]

    def _footer(self, canvas, page: int, pages: int) -> None:
        account = self.shown.account
        canvas.setFont(self.regular, 7)
        canvas.setFillColor(MUTED)
        canvas.drawString(MARGIN, MARGIN - 8, f"{account.retailer.name} · {account.wholesaler.name} · "
                                              f"{self.shown.start:%Y-%m-%d} to {self.shown.end:%Y-%m-%d}")
        canvas.drawRightString(WIDTH - MARGIN, MARGIN - 8, f"Page {page} of {pages}")

    # --- Drawing ------------------------------------------------------------------------------------------

    def _text(self, x: float, y: float, text: str, *, size: float = 8, bold: bool = False, colour=INK,
              align: str = "left") -> None:
        canvas = self.canvas
        canvas.setFont(self.bold if bold else self.regular, size)
        canvas.setFillColor(colour)
        (canvas.drawRightString if align == "right" else canvas.drawString)(x, y, self._printable(text))

    def _printable(self, text: str) -> str:
        return text if self.regular != "Helvetica" else text.encode("cp1252", "replace").decode("cp1252")

    def _fit(self, text: str, width: float) -> str:
        if pdfmetrics.stringWidth(text, self.regular, 8) <= width:
            return text
        while text and pdfmetrics.stringWidth(text + "…", self.regular, 8) > width:
            text = text[:-1]
        return text + "…"

    def _rule(self, y: float) -> None:
        self.canvas.setStrokeColor(RULE)
        self.canvas.setLineWidth(0.6)
        self.canvas.line(MARGIN, y, WIDTH - MARGIN, y)

    def _band(self, top: float, height: float) -> None:
        self.canvas.setFillColor(BAND)
        self.canvas.setStrokeColor(RULE)
        self.canvas.roundRect(MARGIN, top - height, WIDTH - 2 * MARGIN, height, 4, stroke=1, fill=1)


class _NumberedCanvas(Canvas):
    """Holds each page until the end, so every footer can say how many pages there are."""

    def __init__(self, *args, footer, **kwargs):
        super().__init__(*args, **kwargs)
        self._pages, self._footer_of = [], footer

    def showPage(self):
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self):
        self._pages.append(dict(self.__dict__))
        for number, state in enumerate(self._pages, start=1):
            self.__dict__.update(state)
            self._footer_of(self, number, len(self._pages))
            super().showPage()
        super().save()

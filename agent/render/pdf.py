"""report.pdf: the report as a printable, archivable document (fpdf2).

Why fpdf2 and not HTML-to-PDF: it is pure Python (no browser or system
library on a cluster node) and writes the same sections as the HTML from
the report model itself. The font is DejaVu Sans from matplotlib's own data
folder, so units and symbols (°, ², ≥, −, µ) print on any machine without
a system font. Plots are the PNG artifacts the tools wrote.
"""

from __future__ import annotations

from pathlib import Path

from agent.atomic import atomic_write_bytes
from agent.render.provenance import (
    citations,
    grounding_view,
    measurement_row,
    section_source,
    no_impression_text,
    patient_view,
    provenance_view,
    signed_line,
    statement_row,
    strip_citations,
    citation_text,
)
from agent.report import Report

FILENAME = "report.pdf"
FONT = "DejaVu"
GREY = (87, 96, 106)
MAX_PLOT_BYTES = 8 * 2**20


def _font_dir() -> Path:
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


def _new_pdf(report: Report):
    from fpdf import FPDF

    class ReportPDF(FPDF):
        def footer(self) -> None:
            self.set_y(-12)
            self.set_font(FONT, size=7)
            self.set_text_color(*GREY)
            self.cell(0, 5, f"CardioAgent · case {report.case_id} · {report.status} · decision support, not a diagnosis · page {self.page_no()}/{{nb}}",
                      align="C")  # fmt: skip
            self.set_text_color(0, 0, 0)

    pdf = ReportPDF(format="A4")
    pdf.set_margins(10, 12, 10)
    fonts = _font_dir()
    pdf.add_font(FONT, "", str(fonts / "DejaVuSans.ttf"))
    pdf.add_font(FONT, "B", str(fonts / "DejaVuSans-Bold.ttf"))
    pdf.add_font(FONT, "I", str(fonts / "DejaVuSans-Oblique.ttf"))
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.set_title(f"CardioAgent report {report.case_id}")
    pdf.set_author("CardioAgent")
    pdf.set_creator("CardioAgent (fpdf2)")
    pdf.alias_nb_pages()
    pdf.add_page()
    return pdf


def _heading(pdf, text: str, size: float = 12) -> None:
    pdf.ln(2)
    pdf.set_font(FONT, "B", size)
    pdf.multi_cell(0, 6, text, new_x="LMARGIN", new_y="NEXT")
    pdf.set_draw_color(208, 215, 222)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.w - pdf.r_margin, pdf.get_y())
    pdf.ln(1.5)
    pdf.set_font(FONT, "", 9)


def _para(pdf, text: str, size: float = 9, style: str = "", grey: bool = False) -> None:
    pdf.set_font(FONT, style, size)
    if grey:
        pdf.set_text_color(*GREY)
    pdf.multi_cell(0, 4.6, text, new_x="LMARGIN", new_y="NEXT", align="L")
    pdf.set_text_color(0, 0, 0)


def _bullets(pdf, items: list[str], size: float = 9) -> None:
    pdf.set_font(FONT, "", size)
    for text in items:
        pdf.set_x(pdf.l_margin + 2)
        pdf.multi_cell(0, 4.6, "• " + text, new_x="LMARGIN", new_y="NEXT", align="L")


def _table(pdf, header: list[str], rows: list[list[str]], widths: tuple[float, ...]) -> None:
    from fpdf.fonts import FontFace

    pdf.set_font(FONT, "", 7)
    pdf.set_fill_color(255, 255, 255)
    with pdf.table(col_widths=widths, width=sum(widths), line_height=3.5, headings_style=FontFace(emphasis="BOLD", fill_color=(238, 241, 244)),
                   text_align="LEFT", first_row_as_headings=True, borders_layout="HORIZONTAL_LINES") as table:  # fmt: skip
        table.row(header)
        for r in rows:
            table.row([c or "" for c in r])
    pdf.ln(2)


def _plot(pdf, path: str, title: str) -> None:
    p = Path(path)
    if not p.is_file() or p.stat().st_size > MAX_PLOT_BYTES:
        return
    width = pdf.w - pdf.l_margin - pdf.r_margin
    try:
        from PIL import Image

        with Image.open(p) as im:
            height = width * im.height / im.width
    except Exception:
        return
    if pdf.get_y() + height + 8 > pdf.h - pdf.b_margin:
        pdf.add_page()
    pdf.image(str(p), w=width)
    _para(pdf, title, size=7.5, grey=True)


def render_pdf(report: Report) -> bytes:
    pdf = _new_pdf(report)
    pdf.set_font(FONT, "B", 15)
    pdf.multi_cell(0, 8, f"CardioAgent report — case {report.case_id}", new_x="LMARGIN", new_y="NEXT")
    _para(pdf, f"{report.status.upper()} · report {report.report_id} · created {report.created_at:%Y-%m-%d %H:%M} UTC", size=8, grey=True)
    _para(pdf, f"Sign-off: {signed_line(report)}", size=8.5, style="B")
    pdf.ln(1)
    pdf.set_fill_color(255, 248, 197)
    pdf.set_font(FONT, "", 8.5)
    pdf.multi_cell(0, 4.4, report.disclaimer, border=1, fill=True, new_x="LMARGIN", new_y="NEXT", align="L")
    pdf.set_fill_color(255, 255, 255)
    pdf.ln(1)
    pt = patient_view(report)
    _para(pdf, f"{pt.heading}: {pt.text}")
    for c in pt.conflicts:
        pdf.set_fill_color(255, 235, 233)
        pdf.set_font(FONT, "B", 8.5)
        pdf.multi_cell(0, 4.4, "Warning — patient data disagree: " + c, border=1, fill=True, new_x="LMARGIN", new_y="NEXT", align="L")
        pdf.set_fill_color(255, 255, 255)
    pdf.set_font(FONT, "", 9)

    _heading(pdf, "Impression")
    if report.impression:
        items = []
        for item in report.impression:
            refs = citations(item).all
            items.append(strip_citations(item.text) + (f"  ({', '.join(refs)})" if refs else ""))
        _bullets(pdf, items)
    else:
        _para(pdf, no_impression_text(report))
    if report.narrative:
        _heading(pdf, "Summary")
        for para in report.narrative:
            _para(pdf, strip_citations(para))
            pdf.ln(1)

    by_id = {m.id: m for x in report.sections for m in x.measurements}  # criteria name their measurement
    for s in report.sections:
        _heading(pdf, f"{s.modality.display} — {s.study_id}")
        q = s.quality.verdict.replace("_", "-") + (f" — {'; '.join(s.quality.reasons)}" if s.quality.reasons else "")
        src = section_source(s, report)
        _para(pdf, src.text + (f" ({src.FULL_LIST_NOTE})" if src.files.folded else "") + f" · tool {s.tool} {s.tool_version} · quality {q}", size=8, grey=True)
        if s.measurements:
            rows = []
            for r in (measurement_row(m, src.series) for m in s.measurements):
                code = f"\n{r.code_text}" if r.code else ""
                ref = r.reference + (f"\n{r.reference_source}" if r.reference_source else "")
                rows.append([r.label + code, r.value, r.flag_text, ref, r.method, r.evidence, f"{r.source}\n{r.id}"])
            _table(pdf, ["Measurement", "Value", "Flag", "Reference", "Method", "Evidence", "Source"], rows, (30, 16, 11, 42, 36, 30, 25))
        if s.statements:
            rows = []
            for st in (statement_row(x, by_id) for x in s.statements):
                crit = "\n".join(c.text() for c in st.criteria)
                rows.append([st.label + (f"\n{st.explanation}" if st.explanation else ""), st.status, crit])
            _table(pdf, ["Finding", "Status", "Criteria (value, threshold, guideline)"], rows, (55, 20, 115))
        for art in s.artifacts:
            if art.media_type == "image/png":
                _plot(pdf, art.path, art.title)
        if s.warnings:
            _bullets(pdf, s.warnings, size=8)

    if report.guidelines:
        _heading(pdf, "Guideline passages cited")
        for g in report.guidelines:
            _para(pdf, citation_text(g), style="B", size=8.5)
            _para(pdf, g.text, size=8.5)
            _para(pdf, f"Paraphrased statement {g.id} ({g.collection})", size=7.5, grey=True)
    rh = report.reported_history
    if rh.indication or rh.notes_excerpt:
        _heading(pdf, "Reported history (as supplied, not verified)")
        if rh.indication:
            _para(pdf, f"Indication: {rh.indication}")
        if rh.notes_excerpt:
            _para(pdf, rh.notes_excerpt, size=8.5, style="I")
        if rh.flagged_instructions:
            _para(pdf, "Text in the notes that reads like instructions to the system was ignored:")
            _bullets(pdf, [f"“{f}”" for f in rh.flagged_instructions], size=8)

    _heading(pdf, "Limitations")
    _bullets(pdf, report.limitations or ["None recorded."])
    g = grounding_view(report.grounding)
    _heading(pdf, "Grounding")
    _para(pdf, g.summary)
    if g.removed:
        _bullets(pdf, list(g.removed), size=8)
    pv = provenance_view(report)
    _heading(pdf, "Provenance")
    _bullets(pdf, [pv.summary, *pv.lines()], size=8)
    if report.rejected_inputs:
        _heading(pdf, "Inputs not used")
        _bullets(pdf, [p.line() for p in report.rejected_inputs], size=8)
    return bytes(pdf.output())


def write(report: Report, out_dir: str | Path) -> Path:
    return atomic_write_bytes(Path(out_dir) / FILENAME, render_pdf(report))

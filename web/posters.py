"""QR codes and counter posters: a QR image alone (PNG, SVG) or a printable A4/A5 poster (PNG, SVG, PDF).

One layout, three renderers: the poster is laid out once in millimetres (text lines
measured with the real font, a QR block), then drawn by Pillow (PNG), by hand (SVG)
or by fpdf2 (PDF, vector QR and embedded font). Everything is black on white, so a
poster prints well on any office printer.

The font is DejaVu Sans from Debian's fonts-dejavu-core (it has every Vietnamese
glyph); `SIPAS_POSTER_FONT_DIR` may name another folder holding the same file names.
"""

from __future__ import annotations

import enum
import io
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal
from xml.sax.saxutils import escape

import segno
from fpdf import FPDF
from PIL import Image, ImageDraw, ImageFont

from problems import ProblemsFound

__all__ = [
    "QR_ERROR_LEVEL",
    "FontMissing",
    "Paper",
    "PosterContent",
    "PosterFormat",
    "Slip",
    "poster_format_for",
    "qr_code",
    "qr_png",
    "qr_svg",
    "render_poster",
    "render_slips",
]

# Level Q restores up to 25% of damaged modules: a printed poster gets scuffed,
# folded and taped over; H would make the code denser for little more.
QR_ERROR_LEVEL = "q"
QUIET_ZONE = 4  # modules of white around the code, as the standard asks
FONT_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),  # Debian/Ubuntu: fonts-dejavu-core
    Path("/usr/share/fonts/dejavu"),  # Fedora, Alpine
)
FONT_FILES = {
    "regular": "DejaVuSans.ttf",
    "bold": "DejaVuSans-Bold.ttf",
    "mono": "DejaVuSansMono.ttf",
}
SVG_FONTS = {
    "regular": "'DejaVu Sans', 'Noto Sans', Arial, sans-serif",
    "bold": "'DejaVu Sans', 'Noto Sans', Arial, sans-serif",
    "mono": "'DejaVu Sans Mono', 'Noto Sans Mono', 'Courier New', monospace",
}
PNG_DPI = 200
MM_PER_PT = 25.4 / 72
Style = Literal["regular", "bold", "mono"]


class FontMissing(ProblemsFound, RuntimeError):
    """No font with Vietnamese glyphs was found for a poster."""


class PosterFormat(enum.StrEnum):
    PNG = "png"
    SVG = "svg"
    PDF = "pdf"


class Paper(enum.StrEnum):
    A4 = "A4"
    A5 = "A5"

    @property
    def size_mm(self) -> tuple[float, float]:
        return (210.0, 297.0) if self is Paper.A4 else (148.0, 210.0)


def poster_format_for(path: Path) -> PosterFormat:
    """The poster format a file name asks for; ValueError for any other suffix."""
    suffix = path.suffix.lower().lstrip(".")
    try:
        return PosterFormat(suffix)
    except ValueError:
        raise ValueError(f"{path.name}: a poster is .png, .svg or .pdf") from None


# --- QR code alone -----------------------------------------------------------------------------


def qr_code(link: str) -> segno.QRCode:
    """The QR code of a link, at the error-correction level fit for print."""
    return segno.make_qr(link, error=QR_ERROR_LEVEL)


def qr_png(link: str, *, scale: int = 8) -> bytes:
    """The QR code of a link as a black-and-white PNG (`scale` pixels per module)."""
    buffer = io.BytesIO()
    qr_code(link).save(buffer, kind="png", scale=scale, border=QUIET_ZONE)
    return buffer.getvalue()


def qr_svg(link: str, *, scale: int = 8) -> bytes:
    """The QR code of a link as an SVG document."""
    buffer = io.BytesIO()
    qr_code(link).save(buffer, kind="svg", scale=scale, border=QUIET_ZONE, title=link, unit="px")
    return buffer.getvalue()


# --- Poster content and layout -------------------------------------------------------------------


@dataclass(frozen=True)
class PosterContent:
    """What a counter's poster says."""

    service_point_code: str
    counter_name: str
    unit_name: str
    link: str
    short_code: str
    zalo_oa_name: str | None  # None: Zalo is off, the poster does not mention it
    counter_name_en: str | None = None
    agency_name: str | None = None
    opens_landing_page: bool = False  # the link is the landing page, not Telegram's


@dataclass(frozen=True)
class _Text:
    text: str
    baseline: float  # mm from the top; every line is centred horizontally
    size: float  # points
    style: Style


@dataclass(frozen=True)
class _Qr:
    left: float  # mm, the outer edge of the quiet zone
    top: float
    side: float  # mm, quiet zone included
    modules: tuple[tuple[bool, ...], ...]  # quiet zone included


@dataclass(frozen=True)
class _Layout:
    paper: Paper
    texts: tuple[_Text, ...]
    qr: _Qr
    frame: tuple[float, float, float, float]  # left, top, right, bottom (mm)


def _font_dirs() -> list[Path]:
    configured = os.environ.get("SIPAS_POSTER_FONT_DIR")
    return [Path(configured), *FONT_DIRS] if configured else list(FONT_DIRS)


@cache
def _font_path(style: Style) -> Path:
    name = FONT_FILES[style]
    for folder in _font_dirs():
        if (folder / name).is_file():
            return folder / name
    raise FontMissing(
        f"font {name} not found in {', '.join(str(d) for d in _font_dirs())}: install "
        "Debian's fonts-dejavu-core (apt-get install fonts-dejavu-core) or set "
        "SIPAS_POSTER_FONT_DIR to a folder holding the DejaVu TTF files"
    )


@cache
def _measuring_font(style: Style) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(_font_path(style)), size=1000)


def _width_mm(text: str, style: Style, size: float) -> float:
    return _measuring_font(style).getlength(text) / 1000 * size * MM_PER_PT


def _wrap(text: str, style: Style, size: float, width: float) -> list[str]:
    """Greedy word wrap to `width` mm; a single over-long word keeps its own line."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}".strip()
        if current and _width_mm(candidate, style, size) > width:
            lines.append(current)
            current = word
        else:
            current = candidate
    if current:
        lines.append(current)
    return lines


def _fit(text: str, style: Style, size: float, width: float) -> float:
    """The largest size up to `size` at which one unbreakable line (a link) fits `width`."""
    natural = _width_mm(text, style, size)
    return size if natural <= width else size * width / natural


def _layout(content: PosterContent, paper: Paper) -> _Layout:
    page_width, page_height = paper.size_mm
    scale = page_width / 210.0  # A5 is A4 shrunk: same look, smaller type
    margin = 14.0 * scale
    width = page_width - 2 * margin
    texts: list[_Text] = []
    cursor = margin + 6 * scale

    def add(text: str, size: float, style: Style = "regular", gap: float = 0.35) -> None:
        nonlocal cursor
        size *= scale
        for line in _wrap(text, style, size, width):
            cursor += size * MM_PER_PT
            texts.append(_Text(line, cursor, size, style))
            cursor += size * MM_PER_PT * gap

    add("ĐÁNH GIÁ SỰ HÀI LÒNG", 26, "bold", 0.2)
    add("How satisfied are you with our service?", 14, "regular", 0.9)
    add(content.counter_name, 22, "bold", 0.25)
    if content.counter_name_en and content.counter_name_en != content.counter_name:
        add(content.counter_name_en, 13, "regular", 0.25)
    if content.agency_name:
        add(content.agency_name, 12, "regular", 0.25)
    add(content.unit_name, 13, "regular", 0.6)

    side = width * 0.74
    modules = tuple(
        tuple(bool(module) for module in row)
        for row in qr_code(content.link).matrix_iter(border=QUIET_ZONE)
    )
    qr = _Qr((page_width - side) / 2, cursor, side, modules)
    cursor += side

    link_size = _fit(content.link, "mono", 10 * scale, width)
    cursor += link_size * MM_PER_PT
    texts.append(_Text(content.link, cursor, link_size, "mono"))
    cursor += 6 * scale

    if content.opens_landing_page:
        zalo = content.zalo_oa_name is not None
        scan_vi = "1. Quét mã QR bằng camera điện thoại, rồi chọn nơi trả lời: " + (
            "trình duyệt, Zalo hoặc Telegram." if zalo else "trình duyệt hoặc Telegram."
        )
        scan_en = "1. Scan the QR code with your phone camera, then choose where to answer: " + (
            "the browser, Zalo or Telegram." if zalo else "the browser or Telegram."
        )
    else:
        scan_vi = "1. Quét mã QR bằng camera điện thoại: Telegram sẽ mở cuộc trò chuyện."
        scan_en = "1. Scan the QR code with your phone camera: Telegram opens the chat."
    add(scan_vi, 12.5)
    add(
        "2. Trả lời vài câu hỏi trong khoảng 3 phút. Không cần cho biết Ông/Bà là ai.",
        12.5,
        gap=0.6,
    )
    add(scan_en, 11)
    add("2. Answer a few questions in about 3 minutes. We never ask who you are.", 11, gap=0.9)
    if content.zalo_oa_name is not None:
        oa = content.zalo_oa_name
        add(f"Trên Zalo: gửi mã {content.short_code} đến OA {oa}", 13, "bold", 0.3)
        add(f"On Zalo: send {content.short_code} to the OA {oa}", 11, gap=0.3)

    footer = margin + 2 * scale
    footer_size = 8.5 * scale
    texts.append(
        _Text(
            f"Không hỏi họ tên, số điện thoại · No name or phone number asked · {content.service_point_code}",
            page_height - footer,
            footer_size,
            "regular",
        )
    )
    if cursor > page_height - footer - 6 * scale:
        raise ValueError(
            f"{content.service_point_code}: the poster text does not fit on {paper.value} "
            "(shorten the counter or unit name)"
        )
    frame = (margin / 2, margin / 2, page_width - margin / 2, page_height - margin / 2)
    return _Layout(paper, tuple(texts), qr, frame)


def _dark_runs(modules: Sequence[Sequence[bool]]) -> Iterator[tuple[int, int, int]]:
    """(row, first column, length) of each horizontal run of dark modules."""
    for row_index, row in enumerate(modules):
        start: int | None = None
        for column, dark in enumerate([*row, False]):
            if dark and start is None:
                start = column
            elif not dark and start is not None:
                yield row_index, start, column - start
                start = None


# --- Renderers -------------------------------------------------------------------------------------


def render_poster(content: PosterContent, *, format: PosterFormat, paper: Paper) -> bytes:
    """A counter's poster as the bytes of a PNG, SVG or PDF file."""
    layout = _layout(content, paper)
    if format is PosterFormat.PDF:
        return _pdf(layout, content)
    if format is PosterFormat.SVG:
        return _svg(layout, content)
    return _png(layout)


def _pdf(layout: _Layout, content: PosterContent) -> bytes:
    pdf = FPDF(orientation="portrait", unit="mm", format=layout.paper.size_mm)
    pdf.set_title(f"SIPAS - {content.counter_name}")
    pdf.set_creator("sipas-bot")
    pdf.set_auto_page_break(False)
    pdf.set_margins(0, 0, 0)
    for style in FONT_FILES:
        pdf.add_font(f"sipas-{style}", "", str(_font_path(style)))
    pdf.add_page()
    page_width = layout.paper.size_mm[0]
    for line in layout.texts:
        pdf.set_font(f"sipas-{line.style}", size=line.size)
        x = (page_width - pdf.get_string_width(line.text)) / 2
        pdf.text(x, line.baseline, line.text)
    _pdf_qr(pdf, layout.qr)
    left, top, right, bottom = layout.frame
    pdf.set_line_width(0.3)
    pdf.set_draw_color(0)
    pdf.rect(left, top, right - left, bottom - top)
    return bytes(pdf.output())


def _pdf_qr(pdf: FPDF, qr: _Qr) -> None:
    module = qr.side / len(qr.modules)
    pdf.set_fill_color(0)
    for row, column, length in _dark_runs(qr.modules):
        # A hair of overlap between runs keeps viewers from showing white seams.
        pdf.rect(
            qr.left + column * module,
            qr.top + row * module,
            length * module,
            module + 0.01,
            style="F",
        )


@dataclass(frozen=True)
class Slip:
    """One invitation slip of a survey round: the lines above its code, its link (the QR
    code), and its short code."""

    lines: tuple[str, ...]
    link: str
    short_code: str


SLIP_COLUMNS, SLIP_ROWS = 2, 4  # eight slips to an A4 page, cut along the frames


def render_slips(slips: Sequence[Slip], *, title: str) -> bytes:
    """A PDF of invitation slips on A4 pages, one code each: nothing on a slip says whom it
    is for."""
    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    pdf.set_title(title)
    pdf.set_creator("sipas-bot")
    pdf.set_auto_page_break(False)
    for style in FONT_FILES:
        pdf.add_font(f"sipas-{style}", "", str(_font_path(style)))
    width, height = 210 / SLIP_COLUMNS, 297 / SLIP_ROWS
    per_page = SLIP_COLUMNS * SLIP_ROWS
    for index, slip in enumerate(slips):
        if index % per_page == 0:
            pdf.add_page()
        column, row = index % SLIP_COLUMNS, index % per_page // SLIP_COLUMNS
        left, top = column * width, row * height
        pdf.set_draw_color(160)
        pdf.set_line_width(0.2)
        pdf.rect(left + 2, top + 2, width - 4, height - 4)
        baseline = top + 8
        pdf.set_font("sipas-regular", size=8)
        for line in slip.lines:
            for part in _wrap(line, "regular", 8, width - 10):
                pdf.text(left + 5, baseline, part)
                baseline += 3.6
        side = min(height - (baseline - top) - 14, width / 2)
        modules = tuple(
            tuple(bool(module) for module in line)
            for line in qr_code(slip.link).matrix_iter(border=QUIET_ZONE)
        )
        _pdf_qr(pdf, _Qr(left + (width - side) / 2, baseline, side, modules))
        pdf.set_font("sipas-mono", size=14)
        code = f"{slip.short_code[:4]}-{slip.short_code[4:]}"
        pdf.text(left + (width - pdf.get_string_width(code)) / 2, baseline + side + 7, code)
    return bytes(pdf.output())


def _svg(layout: _Layout, content: PosterContent) -> bytes:
    width, height = layout.paper.size_mm
    qr = layout.qr
    module = qr.side / len(qr.modules)
    path = "".join(
        f"M{qr.left + column * module:.3f} {qr.top + row * module:.3f}"
        f"h{length * module:.3f}v{module:.3f}h{-length * module:.3f}z"
        for row, column, length in _dark_runs(qr.modules)
    )
    left, top, right, bottom = layout.frame
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}mm" height="{height}mm" '
        f'viewBox="0 0 {width} {height}">',
        f"<title>SIPAS – {escape(content.counter_name)}</title>",
        f'<rect width="{width}" height="{height}" fill="#fff"/>',
        f'<rect x="{left}" y="{top}" width="{right - left}" height="{bottom - top}" '
        'fill="none" stroke="#000" stroke-width="0.3"/>',
        f'<path d="{path}" fill="#000" shape-rendering="crispEdges"/>',
    ]
    for line in layout.texts:
        weight = ' font-weight="bold"' if line.style == "bold" else ""
        parts.append(
            f'<text x="{width / 2:.3f}" y="{line.baseline:.3f}" text-anchor="middle" '
            f'font-family="{SVG_FONTS[line.style]}" font-size="{line.size * MM_PER_PT:.3f}"'
            f'{weight} fill="#000">{escape(line.text)}</text>'
        )
    parts.append("</svg>\n")
    return "\n".join(parts).encode()


def _png(layout: _Layout) -> bytes:
    width, height = layout.paper.size_mm
    px_per_mm = PNG_DPI / 25.4
    image = Image.new("L", (round(width * px_per_mm), round(height * px_per_mm)), 255)
    draw = ImageDraw.Draw(image)
    for line in layout.texts:
        font = ImageFont.truetype(
            str(_font_path(line.style)), size=max(1, round(line.size * MM_PER_PT * px_per_mm))
        )
        draw.text(
            (image.width / 2, line.baseline * px_per_mm), line.text, font=font, fill=0, anchor="ms"
        )
    qr = layout.qr
    count = len(qr.modules)
    # Whole pixels per module: a scanner reads crisp, equal modules best.
    module = max(1, int(qr.side * px_per_mm // count))
    left = round((image.width - module * count) / 2)
    top = round(qr.top * px_per_mm)
    for row, column, length in _dark_runs(qr.modules):
        x, y = left + column * module, top + row * module
        draw.rectangle((x, y, x + length * module - 1, y + module - 1), fill=0)
    frame_left, frame_top, frame_right, frame_bottom = (v * px_per_mm for v in layout.frame)
    draw.rectangle((frame_left, frame_top, frame_right, frame_bottom), outline=0, width=2)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", dpi=(PNG_DPI, PNG_DPI), optimize=True)
    return buffer.getvalue()

"""QR codes and counter posters: decoded back by a real QR reader, rendered from PDF, in Vietnamese."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from pathlib import Path

import pypdfium2
import pytest
import zxingcpp
from PIL import Image

from web import posters
from web.posters import (
    FontMissing,
    Paper,
    PosterContent,
    PosterFormat,
    poster_format_for,
    qr_png,
    qr_svg,
    render_poster,
)

LINK = "https://t.me/sipas_bot?start=c_HN-00004-01_Zq3xY0a9bC8dE7fG"
CONTENT = PosterContent(
    service_point_code="HN-00004-01",
    counter_name="Quầy 01 – Tư pháp, hộ tịch",
    counter_name_en="Counter 1 – Justice and civil status",
    unit_name="Phường Ba Đình",
    agency_name="Trung tâm Phục vụ hành chính công",
    link=LINK,
    short_code="K7M2QX9P",
    zalo_oa_name="Sở Nội vụ Hà Nội",
)
A4_POINTS = (595, 842)
A5_POINTS = (420, 595)


def decoded(image: Image.Image) -> list[str]:
    return [barcode.text for barcode in zxingcpp.read_barcodes(image)]


def pdf_page(data: bytes) -> pypdfium2.PdfPage:
    return pypdfium2.PdfDocument(data)[0]


def test_a_qr_png_decodes_to_exactly_the_link() -> None:
    image = Image.open(io.BytesIO(qr_png(LINK)))
    assert decoded(image) == [LINK]


def test_a_qr_svg_is_an_svg_document_titled_with_the_link() -> None:
    root = ET.fromstring(qr_svg(LINK))
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert LINK in qr_svg(LINK).decode()


@pytest.mark.parametrize("paper", list(Paper))
def test_a_png_poster_carries_a_readable_code(paper: Paper) -> None:
    image = Image.open(io.BytesIO(render_poster(CONTENT, format=PosterFormat.PNG, paper=paper)))
    assert decoded(image) == [LINK]
    assert image.info["dpi"] == pytest.approx((200, 200), abs=0.1)


@pytest.mark.parametrize(("paper", "points"), [(Paper.A4, A4_POINTS), (Paper.A5, A5_POINTS)])
def test_a_pdf_poster_renders_with_its_text_and_a_readable_code(
    paper: Paper, points: tuple[int, int]
) -> None:
    page = pdf_page(render_poster(CONTENT, format=PosterFormat.PDF, paper=paper))
    assert tuple(round(side) for side in page.get_size()) == points
    text = page.get_textpage().get_text_range()
    for expected in (
        "Quầy 01 – Tư pháp, hộ tịch",
        "Phường Ba Đình",
        "ĐÁNH GIÁ SỰ HÀI LÒNG",
        "Trên Zalo: gửi mã K7M2QX9P đến OA Sở Nội vụ Hà Nội",
        "On Zalo: send K7M2QX9P to the OA Sở Nội vụ Hà Nội",
        LINK,
    ):
        assert expected in text
    image = page.render(scale=2).to_pil().convert("L")
    dark = sum(image.histogram()[:128]) / (image.width * image.height)
    assert 0.05 < dark < 0.5, f"{dark:.1%} dark: a blank or a black page"
    assert decoded(image) == [LINK]


def test_without_zalo_the_poster_does_not_mention_it() -> None:
    telegram_only = PosterContent(**{**CONTENT.__dict__, "zalo_oa_name": None})
    page = pdf_page(render_poster(telegram_only, format=PosterFormat.PDF, paper=Paper.A4))
    text = page.get_textpage().get_text_range()
    assert "Zalo" not in text
    assert LINK in text


@pytest.mark.parametrize("paper", list(Paper))
def test_a_poster_opening_the_landing_page_says_where_one_can_answer(paper: Paper) -> None:
    landing = "https://survey.example.gov.vn/s/c_HN-00004-01_Zq3xY0a9bC8dE7fG"
    content = PosterContent(**{**CONTENT.__dict__, "link": landing, "opens_landing_page": True})
    page = pdf_page(render_poster(content, format=PosterFormat.PDF, paper=paper))
    text = " ".join(page.get_textpage().get_text_range().split())
    assert "rồi chọn nơi trả lời: trình duyệt, Zalo hoặc Telegram." in text
    assert "then choose where to answer: the browser, Zalo or Telegram." in text
    assert "Telegram sẽ mở" not in text and landing in text
    assert decoded(page.render(scale=2).to_pil().convert("L")) == [landing]
    without_zalo = PosterContent(**{**content.__dict__, "zalo_oa_name": None})
    page = pdf_page(render_poster(without_zalo, format=PosterFormat.PDF, paper=paper))
    text = " ".join(page.get_textpage().get_text_range().split())
    assert "trình duyệt hoặc Telegram." in text and "Zalo" not in text


def test_an_svg_poster_is_well_formed_and_names_the_counter() -> None:
    data = render_poster(CONTENT, format=PosterFormat.SVG, paper=Paper.A5)
    root = ET.fromstring(data)
    texts = [element.text for element in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "Quầy 01 – Tư pháp, hộ tịch" in texts and LINK in texts
    assert root.get("width") == "148.0mm"


def test_a_name_too_long_for_the_page_is_refused_not_cut() -> None:
    crowded = PosterContent(**{**CONTENT.__dict__, "counter_name": "Quầy rất dài " * 60})
    with pytest.raises(ValueError, match="does not fit"):
        render_poster(crowded, format=PosterFormat.PDF, paper=Paper.A5)


def test_the_format_comes_from_the_file_name() -> None:
    assert poster_format_for(Path("q.PDF")) is PosterFormat.PDF
    assert poster_format_for(Path("a/b.svg")) is PosterFormat.SVG
    with pytest.raises(ValueError, match=r"\.png, \.svg or \.pdf"):
        poster_format_for(Path("q.jpg"))


def test_a_missing_font_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(posters, "FONT_DIRS", (tmp_path,))
    posters._font_path.cache_clear()
    posters._measuring_font.cache_clear()
    try:
        with pytest.raises(FontMissing, match="fonts-dejavu-core"):
            render_poster(CONTENT, format=PosterFormat.PNG, paper=Paper.A4)
    finally:
        posters._font_path.cache_clear()
        posters._measuring_font.cache_clear()

"""Files become blocks with their place: PDF pages (Japanese CID fonts included), DOCX, HTML and
Markdown sections, plain text in UTF-8 or Shift_JIS; unreadable files are clear refusals."""

from __future__ import annotations

import io

import docx
import pytest

from deshi.errors import ValidationFailed
from deshi.knowledge.parse import Block, parse_file
from knowledge_fakes import japanese_pdf


def test_a_japanese_pdf_is_read_page_by_page() -> None:
    pdf = japanese_pdf(["経費精算は月末までに申請してください。", "領収書の原本を添付すること。"])
    parsed = parse_file("規程.pdf", pdf)
    assert parsed.media_type == "pdf"
    assert parsed.pages == 2
    assert parsed.blocks == [
        Block("経費精算は月末までに申請してください。", page=1),
        Block("領収書の原本を添付すること。", page=2),
    ]


def test_a_docx_has_a_section_per_heading_and_keeps_its_tables() -> None:
    document = docx.Document()
    document.add_heading("Expenses", level=1)
    document.add_paragraph("Claims are filed by the end of the month.")
    document.add_heading("Travel", level=2)
    document.add_paragraph("Book trains through the portal.")
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "Hotel"
    table.rows[0].cells[1].text = "15,000 yen"
    buffer = io.BytesIO()
    document.save(buffer)
    parsed = parse_file("policy.docx", buffer.getvalue())
    assert parsed.blocks == [
        Block("Claims are filed by the end of the month.", section="Expenses"),
        Block("Book trains through the portal.\nHotel\t15,000 yen", section="Expenses › Travel"),
    ]


def test_html_sections_follow_headings_and_scripts_are_dropped() -> None:
    html = (
        "<html><head><title>x</title><script>alert(1)</script></head><body>"
        "<h1>カード</h1><p>紛失したカードはすぐに停止します。</p>"
        "<h2>再発行</h2><ul><li>手数料は無料です。</li><li>一週間で届きます。</li></ul>"
        "<!-- a comment --></body></html>"
    ).encode()
    parsed = parse_file("cards.html", html)
    assert parsed.blocks == [
        Block("紛失したカードはすぐに停止します。", section="カード"),
        Block("手数料は無料です。\n一週間で届きます。", section="カード › 再発行"),
    ]


def test_markdown_headings_make_sections_and_links_keep_their_text() -> None:
    markdown = (
        b"Intro line.\n\n# Cards\nSee [the portal](https://example.com).\n\n"
        b"Fees\n----\nNo fee.\n## Deeper\nText.\n# Other\nMore."
    )
    parsed = parse_file("guide.md", markdown)
    assert parsed.blocks == [
        Block("Intro line."),
        Block("See the portal.", section="Cards"),
        Block("No fee.", section="Cards › Fees"),
        Block("Text.", section="Cards › Deeper"),  # a level-2 heading replaces Fees
        Block("More.", section="Other"),
    ]


def test_plain_text_is_read_as_utf8_or_shift_jis() -> None:
    text = "お問い合わせは平日のみ受け付けます。"
    assert parse_file("a.txt", text.encode("utf-8")).blocks == [Block(text)]
    assert parse_file("b.txt", text.encode("cp932")).blocks == [Block(text)]


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("image.png", b"\x89PNG", "unsupported file type .png"),
        ("broken.pdf", b"%PDF-1.7 not really", "not a readable pdf file"),
        ("broken.docx", b"PK\x03\x04 not a zip", "not a DOCX file"),
        ("blank.md", b"# Only a heading\n\n", "holds no text"),
        ("binary.txt", b"\xff\xfe\x00\x81\xff", "neither UTF-8 nor Shift_JIS"),
    ],
)
def test_unreadable_files_are_refused_naming_the_file(
    name: str, content: bytes, reason: str
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        parse_file(name, content)
    assert refused.value.detail.startswith(name)
    assert reason in refused.value.detail
    assert refused.value.field == "file"

"""Files to text blocks with their place: PDF pages, DOCX/HTML/Markdown sections, plain text.

A block is a run of text with one anchor: the 1-based page of a PDF, or the heading path of
the section it sits under ("Expenses › Travel"). Chunking (`deshi.knowledge.chunk`) never
lets a passage cross a block, so every passage has one place to open.

Pure: bytes in, blocks out. The format is chosen by the file name's extension, never by
sniffing, so what a user sees in the name is what is parsed. A file that cannot be read is a
ValidationFailed naming the file, never a parser's traceback.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any, Final

from deshi.errors import ValidationFailed

__all__ = [
    "MEDIA_TYPES",
    "Block",
    "ParsedFile",
    "media_type_of",
    "parse_file",
]

# Extension → media type, the formats the knowledge base reads.
MEDIA_TYPES: Final = {
    ".pdf": "pdf",
    ".docx": "docx",
    ".html": "html",
    ".htm": "html",
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
    ".text": "text",
}
SECTION_SEPARATOR: Final = " › "
_MAX_SECTION_CHARS: Final = 500
_HTML_HEADINGS: Final = ("h1", "h2", "h3", "h4", "h5", "h6")
_HTML_SKIPPED: Final = ("script", "style", "noscript", "template", "head")
_MD_HEADING: Final = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_MD_SETEXT: Final = re.compile(r"^(=+|-+)\s*$")
_MD_LINK: Final = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_CONTROL: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_DOCX_HEADING: Final = re.compile(r"^(?:heading|見出し)\s*(\d)$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Block:
    """Text under one anchor: a PDF page (`page`) or a heading path (`section`)."""

    text: str
    page: int | None = None
    section: str = ""


@dataclass(frozen=True, slots=True)
class ParsedFile:
    """What a file holds: its media type, its blocks in reading order and its page count."""

    media_type: str
    blocks: list[Block]
    pages: int | None = None


def media_type_of(name: str) -> str:
    """The media type a file name's extension stands for; ValidationFailed for others."""
    suffix = PurePath(name).suffix.lower()
    media_type = MEDIA_TYPES.get(suffix)
    if media_type is None:
        kinds = ", ".join(sorted(MEDIA_TYPES))
        raise ValidationFailed(
            f"{name}: unsupported file type {suffix or '(none)'}; use one of {kinds}", field="file"
        )
    return media_type


def parse_file(name: str, content: bytes) -> ParsedFile:
    """The blocks of a file, parsed by its extension; ValidationFailed if it holds no text or
    cannot be read as the format its name says."""
    media_type = media_type_of(name)
    parser = _PARSERS[media_type]
    try:
        parsed = parser(content)
    except ValidationFailed as failed:
        raise ValidationFailed(f"{name}: {failed.detail}", field="file") from None
    except Exception as exc:  # each library has its own errors for a broken file
        raise ValidationFailed(
            f"{name}: not a readable {media_type} file ({type(exc).__name__})", field="file"
        ) from None
    parsed = _without_control_characters(parsed)
    if not any(block.text.strip() for block in parsed.blocks):
        hint = " (a scanned PDF needs OCR first)" if media_type == "pdf" else ""
        raise ValidationFailed(f"{name}: the file holds no text{hint}", field="file")
    return parsed


def _without_control_characters(parsed: ParsedFile) -> ParsedFile:
    """Control characters (NUL and the like) are no text, and PostgreSQL cannot store NUL."""
    blocks = [
        Block(_CONTROL.sub("", b.text), b.page, _CONTROL.sub("", b.section)) for b in parsed.blocks
    ]
    return ParsedFile(parsed.media_type, blocks, parsed.pages)


def _pdf(content: bytes) -> ParsedFile:
    """One block per page; pdfium reads TrueType, CID and CFF fonts (Japanese PDFs)."""
    import pypdfium2

    document = pypdfium2.PdfDocument(content)
    try:
        blocks = []
        for index in range(len(document)):
            page = document[index]
            textpage = page.get_textpage()
            text = textpage.get_text_range().replace("\r\n", "\n").replace("\r", "\n")
            textpage.close()
            page.close()
            blocks.append(Block(text=text, page=index + 1))
        return ParsedFile("pdf", blocks, pages=len(document))
    finally:
        document.close()


def _docx(content: bytes) -> ParsedFile:
    """Paragraphs and table cells in body order; a Heading N paragraph opens a section."""
    import docx

    if not zipfile.is_zipfile(io.BytesIO(content)):
        raise ValidationFailed("not a DOCX file (a DOCX is a zip archive)")
    document = docx.Document(io.BytesIO(content))
    sections = _Sections()
    for kind, element in _docx_body(document):
        if kind == "table":
            for row in element.rows:
                sections.add("\t".join(cell.text.strip() for cell in row.cells))
            continue
        style = element.style.name if element.style is not None else ""
        level = _DOCX_HEADING.match(style or "")
        if level is not None or (style or "").lower() == "title":
            sections.heading(int(level.group(1)) if level else 1, element.text)
        else:
            sections.add(element.text)
    return ParsedFile("docx", sections.blocks())


def _docx_body(document: Any) -> Iterator[tuple[str, Any]]:
    """The body's paragraphs and tables in document order."""
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    for child in document.element.body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            yield "paragraph", Paragraph(child, document)
        elif tag == "tbl":
            yield "table", Table(child, document)


def _html(content: bytes) -> ParsedFile:
    """The page's text, a block per heading's section; scripts and styles dropped."""
    from bs4 import BeautifulSoup, Tag

    soup = BeautifulSoup(content, "html.parser")
    for tag in soup.find_all(_HTML_SKIPPED):
        tag.decompose()
    sections = _Sections()
    line: list[str] = []
    for element in soup.descendants:
        if isinstance(element, Tag) and element.name in _HTML_HEADINGS:
            sections.add("".join(line))
            line = []
            sections.heading(int(element.name[1]), element.get_text(" ", strip=True))
        elif isinstance(element, Tag) and element.name in ("p", "li", "tr", "br", "div", "dd"):
            sections.add("".join(line))
            line = []
        elif _is_body_text(element):
            line.append(str(element))
    sections.add("".join(line))
    return ParsedFile("html", sections.blocks())


def _is_body_text(element: Any) -> bool:
    """A plain text node (not a comment or doctype) outside any heading."""
    from bs4.element import NavigableString

    return type(element) is NavigableString and element.find_parent(_HTML_HEADINGS) is None


def _markdown(content: bytes) -> ParsedFile:
    """A block per heading's section (ATX `#` and setext underlines); links keep their text."""
    sections = _Sections()
    lines = _decode(content).splitlines()
    for index, raw in enumerate(lines):
        atx = _MD_HEADING.match(raw)
        following = lines[index + 1] if index + 1 < len(lines) else ""
        if atx is not None:
            sections.heading(len(atx.group(1)), atx.group(2))
        elif raw.strip() and _MD_SETEXT.match(following) and not _MD_SETEXT.match(raw):
            sections.heading(1 if following.startswith("=") else 2, raw)
        elif _MD_SETEXT.match(raw) and index > 0 and lines[index - 1].strip():
            continue  # the underline of a setext heading
        else:
            sections.add(_MD_LINK.sub(r"\1", raw))
    return ParsedFile("markdown", sections.blocks())


def _text(content: bytes) -> ParsedFile:
    """One block, no anchor but the passage itself."""
    return ParsedFile("text", [Block(text=_decode(content))])


def _decode(content: bytes) -> str:
    """UTF-8 (with or without BOM), else Shift_JIS (cp932), the other encoding Japanese
    offices write; ValidationFailed for anything else."""
    for encoding in ("utf-8-sig", "cp932"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ValidationFailed("the text is neither UTF-8 nor Shift_JIS")


class _Sections:
    """Collects lines under the current heading path and cuts a block at each heading."""

    def __init__(self) -> None:
        self._path: list[tuple[int, str]] = []
        self._lines: list[str] = []
        self._blocks: list[Block] = []

    def heading(self, level: int, title: str) -> None:
        """Close the current block; the heading replaces those at its level and below."""
        self._flush()
        self._path = [(lvl, t) for lvl, t in self._path if lvl < level]
        title = " ".join(title.split())
        if title:
            self._path.append((level, title))

    def add(self, line: str) -> None:
        """Add a line of body text (blank lines are dropped)."""
        line = line.strip()
        if line:
            self._lines.append(line)

    def blocks(self) -> list[Block]:
        """Every block, the last one closed."""
        self._flush()
        return self._blocks

    def _flush(self) -> None:
        if self._lines:
            section = SECTION_SEPARATOR.join(t for _, t in self._path)[:_MAX_SECTION_CHARS]
            self._blocks.append(Block(text="\n".join(self._lines), section=section))
        self._lines = []


_PARSERS: Final = {
    "pdf": _pdf,
    "docx": _docx,
    "html": _html,
    "markdown": _markdown,
    "text": _text,
}

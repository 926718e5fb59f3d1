"""What the knowledge-base tests share: an instant embedder and documents written by hand.

`HashingEmbedder` stands in for multilingual-e5-small where a test is about storage, versions,
permissions or surfaces rather than ranking: each Sudachi word is hashed to one of 256
dimensions, so texts sharing words are similar; it is deterministic and needs no model. Tests of
ranking quality use the real embedder.

`japanese_pdf` writes a PDF the way Japanese PDFs are written: a Type0 font with Identity-H
encoding (two-byte glyph ids in the content stream) and a ToUnicode map from those ids to the
characters, so the text can only be read through that map, as with real Japanese PDFs.
(reportlab is not a dependency and pypdfium2 cannot lay out CJK text without a font file, so the
file is assembled byte by byte; no glyphs are embedded: the test reads text, it draws nothing.)
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from deshi.engine.japanese import word_tokens
from deshi.knowledge import KnowledgeIndex

__all__ = ["Departments", "HashingEmbedder", "fake_index", "japanese_pdf"]

DIMENSIONS = 256


@dataclass(frozen=True)
class Departments:
    """The ids of the knowledge tests' two departments."""

    own: int
    other: int


class HashingEmbedder:
    """Bag of Sudachi words hashed to 256 dimensions, L2-normalised."""

    def queries(self, texts: Sequence[str]) -> NDArray[np.float32]:
        return self._embed(texts)

    def passages(self, texts: Sequence[str]) -> NDArray[np.float32]:
        return self._embed(texts)

    @staticmethod
    def _embed(texts: Sequence[str]) -> NDArray[np.float32]:
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in word_tokens(text):
                digest = hashlib.blake2b(word.encode(), digest_size=4).digest()
                out[row, int.from_bytes(digest, "little") % DIMENSIONS] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        np.divide(out, norms, out=out, where=norms > 0)
        return out


def fake_index() -> KnowledgeIndex:
    """A knowledge index on the hashing embedder."""
    return KnowledgeIndex(embedder=HashingEmbedder())


def japanese_pdf(pages: Sequence[str]) -> bytes:
    """A PDF with one line of text per page, in a CID-keyed font (Identity-H + ToUnicode)."""
    chars = sorted({ch for page in pages for ch in page})
    cid = {ch: i + 1 for i, ch in enumerate(chars)}
    cmap_lines = "\n".join(f"<{cid[ch]:04X}> <{ord(ch):04X}>" for ch in chars)
    to_unicode = (
        "/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n"
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
        "/CMapName /Adobe-Identity-UCS def /CMapType 2 def\n"
        "1 begincodespacerange <0000> <FFFF> endcodespacerange\n"
        f"{len(chars)} beginbfchar\n{cmap_lines}\nendbfchar\n"
        "endcmap CMapName currentdict /CMap defineresource pop end end"
    ).encode()
    first_page = 6
    kids = " ".join(f"{first_page + 2 * i} 0 R" for i in range(len(pages)))
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode(),
        b"<< /Type /Font /Subtype /Type0 /BaseFont /MS-Mincho /Encoding /Identity-H"
        b" /DescendantFonts [4 0 R] /ToUnicode 5 0 R >>",
        b"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /MS-Mincho"
        b" /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >>"
        b" /FontDescriptor << /Type /FontDescriptor /FontName /MS-Mincho /Flags 4"
        b" /FontBBox [0 -140 1000 880] /ItalicAngle 0 /Ascent 880 /Descent -120"
        b" /CapHeight 700 /StemV 80 >> /DW 1000 >>",
        _stream(to_unicode),
    ]
    for index, text in enumerate(pages):
        glyphs = "".join(f"{cid[ch]:04X}" for ch in text)
        content = f"BT /F1 12 Tf 72 720 Td <{glyphs}> Tj ET".encode()
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792]"
            f" /Resources << /Font << /F1 3 0 R >> >> /Contents {first_page + 2 * index + 1} 0 R"
            f" >>".encode()
        )
        objects.append(_stream(content))
    return _assemble(objects)


def _stream(data: bytes) -> bytes:
    return b"<< /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"


def _assemble(objects: list[bytes]) -> bytes:
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)

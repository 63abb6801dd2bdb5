"""Just enough of a PDF reader for the report's layout tests: each page's size (MediaBox) and
how far down it its text goes, from the text-showing operators of its content stream.

Handles what Chromium's (Skia's) PDF printer writes: uncompressed or FlateDecode content
streams, ``q``/``Q``/``cm`` transforms and ``BT``/``Tm``/``Td``/``Tj``/``TJ`` text; no form
XObjects (Skia draws HTML text and inline SVG in the page stream). Not a general PDF parser.
"""

from __future__ import annotations

import contextlib
import re
import zlib
from dataclasses import dataclass

_OBJ = re.compile(rb"(\d+) 0 obj\s*(.*?)endobj", re.S)
_TOKEN = re.compile(
    rb"<<|>>|\((?:\\.|[^\\)])*\)|<[0-9A-Fa-f\s]*>|\[|\]|/[^\s/\[\]()<>{}%]+"
    rb"|[-+]?(?:\d+\.?\d*|\.\d+)|[A-Za-z'\"*]+[0-9]?"
)
_SHOW = {b"Tj", b"TJ", b"'", b'"'}

Matrix = tuple[float, float, float, float, float, float]
IDENTITY: Matrix = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)


@dataclass(frozen=True)
class Page:
    width: float  # points
    height: float
    text_top: float | None  # highest and lowest text baseline, points from the top edge
    text_bottom: float | None
    texts: int  # text-showing operations

    @property
    def filled(self) -> float:
        """How far down the page the text reaches, as a fraction of the page height."""
        return 0.0 if self.text_bottom is None else self.text_bottom / self.height


def _mul(m: Matrix, n: Matrix) -> Matrix:
    """m × n for PDF's row-vector matrices [a b c d e f]."""
    a, b, c, d, e, f = m
    a2, b2, c2, d2, e2, f2 = n
    return (
        a * a2 + b * c2,
        a * b2 + b * d2,
        c * a2 + d * c2,
        c * b2 + d * d2,
        e * a2 + f * c2 + e2,
        e * b2 + f * d2 + f2,
    )


def _stream(body: bytes) -> bytes:
    head, _, rest = body.partition(b"stream")
    data = rest.lstrip(b"\r\n").rsplit(b"endstream", 1)[0]
    length = re.search(rb"/Length (\d+)(?! \d+ R)", head)
    if length:
        data = data[: int(length.group(1))]
    return zlib.decompress(data) if b"/FlateDecode" in head else data


def _text_ys(content: bytes) -> list[float]:
    """The y (PDF user space, bottom-up) of every text-showing operation."""
    ys: list[float] = []
    ctm, stack = IDENTITY, []
    tm = line = IDENTITY
    operands: list[bytes] = []
    for token in _TOKEN.findall(content):
        if token[:1].isalpha() or token in (b"'", b'"'):
            nums = []
            for o in operands:
                with contextlib.suppress(ValueError):
                    nums.append(float(o))
            if token == b"q":
                stack.append(ctm)
            elif token == b"Q" and stack:
                ctm = stack.pop()
            elif token == b"cm" and len(nums) >= 6:
                ctm = _mul(tuple(nums[-6:]), ctm)
            elif token == b"BT":
                tm = line = IDENTITY
            elif token == b"Tm" and len(nums) >= 6:
                tm = line = tuple(nums[-6:])
            elif token in (b"Td", b"TD") and len(nums) >= 2:
                tm = line = _mul((1, 0, 0, 1, nums[-2], nums[-1]), line)
            elif token in _SHOW:
                ys.append(_mul(tm, ctm)[5])
            operands = []
        else:
            operands.append(token)
    return ys


def pdf_pages(data: bytes) -> list[Page]:
    """The pages of a PDF in document order (the order of their objects, as Skia writes)."""
    objects = {int(m.group(1)): m.group(2) for m in _OBJ.finditer(data)}
    pages: list[Page] = []
    for body in objects.values():
        head = body.partition(b"stream")[0]
        if not re.search(rb"/Type\s*/Page(?!s)\b", head):
            continue
        box = [float(x) for x in re.search(rb"/MediaBox\s*\[([^\]]*)\]", head).group(1).split()]
        width, height = box[2] - box[0], box[3] - box[1]
        refs = re.search(rb"/Contents\s*(\[[^\]]*\]|\d+ 0 R)", head).group(1)
        content = b"\n".join(_stream(objects[int(n)]) for n in re.findall(rb"(\d+) 0 R", refs))
        ys = [height - (y - box[1]) for y in _text_ys(content)]
        pages.append(Page(width, height, min(ys, default=None), max(ys, default=None), len(ys)))
    return pages

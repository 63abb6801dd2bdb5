"""Read any landing file into uniform, all-text sheets.

Every format becomes a list of :class:`Sheet`: a polars frame whose columns ``c0..cN`` hold the
cells as text exactly as the file has them (nothing parsed yet), plus the source row number of
each frame row, so that a value can always be traced back to the row a person sees in Excel or
a text editor. A file that cannot be read raises :class:`FileRejected` with the reason.
"""

from __future__ import annotations

import collections
import csv
import io
import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

if TYPE_CHECKING:
    from orchestration.lib.settings import IngestLimits

SUPPORTED_SUFFIXES = {".xlsx", ".xlsm", ".xls", ".csv", ".json"}
JSON_LIST_KEYS = ("data", "records", "rows")


class FileRejected(Exception):
    """A whole file cannot be used; ``reason`` says why in words a data officer understands."""

    def __init__(self, reason: str, code: str = "unreadable"):
        super().__init__(reason)
        self.reason = reason
        self.code = code


@dataclass
class Sheet:
    """One table-like part of a file, every cell as text.

    ``row_numbers[i]`` is the 1-based source row of frame row ``i`` (the Excel row, the CSV
    line, or for JSON the record number with the synthetic header as row 0).
    """

    name: str | None
    frame: pl.DataFrame
    row_numbers: list[int]
    encoding: str | None = None


def _text_frame(rows: list[list[str | None]]) -> pl.DataFrame:
    width = max((len(r) for r in rows), default=0)
    columns = list(zip(*[list(r) + [None] * (width - len(r)) for r in rows], strict=True))
    return pl.DataFrame(
        {f"c{i}": list(col) for i, col in enumerate(columns)},
        schema={f"c{i}": pl.String for i in range(width)},
    )


def decode_text(data: bytes, encodings: tuple[str, ...]) -> tuple[str, str]:
    """Decode with the first encoding that accepts every byte; never guess lossy."""
    for encoding in encodings:
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise FileRejected(
        f"text cannot be decoded as any of {', '.join(encodings)}", code="undecodable"
    )


def _split_unquoted(text: str, delimiter: str) -> tuple[pl.DataFrame, list[int]]:
    """Fast path for CSV without quote characters: one line is one record, split in polars."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    fields = pl.Series("line", lines, dtype=pl.String).str.split(delimiter)
    width = int(fields.list.len().max() or 0)
    frame = pl.DataFrame(
        {f"c{i}": fields.list.get(i, null_on_oob=True) for i in range(width)}
    ).with_columns(pl.all().replace("", None))
    return frame, list(range(1, len(lines) + 1))


def read_csv(path: Path, encodings: tuple[str, ...]) -> list[Sheet]:
    data = path.read_bytes()
    if not data.strip():
        raise FileRejected("the file is empty", code="empty")
    text, encoding = decode_text(data, encodings)
    sample = text[:4096]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",\t;|")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    if '"' not in text:
        return [Sheet(None, *_split_unquoted(text, delimiter), encoding)]
    rows: list[list[str | None]] = []
    numbers: list[int] = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for row in reader:
            numbers.append(reader.line_num)
            rows.append([c if c != "" else None for c in row])
    except csv.Error as exc:
        raise FileRejected(f"malformed CSV at line {reader.line_num}: {exc}", "malformed") from exc
    # csv.reader reports the line on which a record *ends*; a record starts one line after the
    # previous one ended, which is the row number a person sees for single-line records.
    starts = [1] + [n + 1 for n in numbers[:-1]]
    return [Sheet(None, _text_frame(rows), starts, encoding)]


def read_excel(path: Path) -> list[Sheet]:
    import fastexcel

    try:
        workbook = fastexcel.read_excel(str(path))
    except Exception as exc:  # calamine raises its own error types for every failure mode
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if path.suffix.lower() != ".xls" and not zipfile.is_zipfile(path):
            with path.open("rb") as fh:
                magic = fh.read(8)
            if magic.startswith(b"\xd0\xcf\x11\xe0"):
                raise FileRejected(
                    "the workbook is password-protected (encrypted); ask the street for an "
                    "unprotected copy",
                    code="password_protected",
                ) from exc
        raise FileRejected(
            f"the workbook cannot be opened (truncated or not a real Excel file): {detail}",
            code="unreadable",
        ) from exc
    sheets = []
    for index, name in enumerate(workbook.sheet_names):
        try:
            # skip_rows=0 keeps leading empty rows, so frame row i is always sheet row i + 1
            # (with the default, calamine drops them and .xls rows would be shifted).
            sheet = workbook.load_sheet(index, header_row=None, dtypes="string", skip_rows=0)
            frame = sheet.to_polars()
        except Exception as exc:
            raise FileRejected(f"sheet '{name}' cannot be read: {exc}", "unreadable") from exc
        frame = frame.rename({c: f"c{i}" for i, c in enumerate(frame.columns)})
        sheets.append(Sheet(name, frame, list(range(1, frame.height + 1))))
    return sheets


def _cell_text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def read_json(path: Path, encodings: tuple[str, ...]) -> list[Sheet]:
    """A JSON list of records (or an object holding one under data/records/rows), one text
    cell per record and key: the header row is the keys in order of first appearance.

    Read natively by polars (:func:`_json_sheet_native`); a document it cannot prove to read
    exactly as the per-value reference does (:func:`_json_sheet_reference`: numbers and
    booleans as :func:`_cell_text` writes them) is read by the reference, which also gives
    the error messages."""
    data = path.read_bytes()
    text, encoding = decode_text(data, encodings)
    if encoding.replace("_", "-").lower() in ("utf-8", "utf-8-sig", "utf8"):
        utf8 = data.removeprefix(b"\xef\xbb\xbf")  # the text is valid UTF-8 already
        text = None  # (decoded again if needed: a str of the file is 2-4 times its size)
    else:
        utf8 = text.encode("utf-8")
    sheet = _json_sheet_native(utf8, encoding)
    if sheet is None:
        text = text if text is not None else data.decode(encoding)
        sheet = _json_sheet_reference(text, encoding)
    return [sheet]


def read_json_reference(path: Path, encodings: tuple[str, ...]) -> list[Sheet]:
    """:func:`read_json` by the per-value path only (tests compare the two)."""
    text, encoding = decode_text(path.read_bytes(), encodings)
    return [_json_sheet_reference(text, encoding)]


def _json_sheet_reference(text: str, encoding: str | None) -> Sheet:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FileRejected(
            f"invalid JSON (truncated?) at line {exc.lineno} column {exc.colno}: {exc.msg}",
            code="malformed",
        ) from exc
    records = doc
    if isinstance(doc, dict):
        key = next((k for k in JSON_LIST_KEYS if isinstance(doc.get(k), list)), None)
        if key is None:
            raise FileRejected(
                "JSON object holds no list of records under data/records/rows", code="malformed"
            )
        records = doc[key]
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise FileRejected("JSON is not a list of records (objects)", code="malformed")
    headers: dict[str, None] = {}
    for record in records:
        headers.update(dict.fromkeys(record))
    names = list(headers)
    rows = [list(names)] + [[_cell_text(r.get(h)) for h in names] for r in records]
    return Sheet(None, _text_frame(rows), list(range(len(rows))), encoding)


#: the members of every object in a JSON text by the type of their value (a match inside a
#: string value only makes the count larger, never smaller)
_JSON_MEMBER = re.compile(rb':[ \t\r\n]*([-0-9"tf])')
_JSON_MEMBER_KIND = {ord('"'): "string", ord("t"): "bool", ord("f"): "bool"}


def _json_kind(dtype: pl.DataType) -> str | None:
    if dtype == pl.String:
        return "string"
    if dtype.is_integer() or dtype == pl.Float64:
        return "number"
    if dtype == pl.Boolean:
        return "bool"
    if dtype == pl.Null:
        return "null"
    return None  # nested: read by the reference


def _json_sheet_native(text: bytes, encoding: str | None) -> Sheet | None:
    """The sheet of a JSON document read by polars, or None when polars' reading could differ
    from the reference: polars infers one type per key (``5`` next to ``"x"`` becomes
    ``"5"``, ``true`` next to ``1`` becomes ``1``) and keeps the first of duplicate keys, so
    the members of each type are counted in the text (:data:`_JSON_MEMBER`) and must equal
    the non-null values polars read of that type — then no value changed type. Nested
    values, floats of 10¹⁵ or more and empty lists are left to the reference."""
    start = text.lstrip()[:1]
    if start not in (b"[", b"{"):
        return None
    try:
        doc = pl.read_json(io.BytesIO(text), infer_schema_length=None)
    except Exception:  # malformed, or not objects: the reference says why
        return None
    counts = {"string": 0, "number": 0, "bool": 0}
    if start == b"{":
        key = next(
            (k for k in JSON_LIST_KEYS if k in doc.columns and doc.schema[k] == pl.List), None
        )
        if key is None or doc.height != 1 or not isinstance(doc.schema[key].inner, pl.Struct):
            return None
        for name, dtype in doc.schema.items():  # the wrapper's own members (code, message)
            if name == key:
                continue
            kind = _json_kind(dtype)
            if kind is None:
                return None
            if kind != "null" and doc[name][0] is not None:
                counts[kind] += 1
        if doc[key].list.len()[0] in (0, None):
            return None
        records = doc.select(pl.col(key).explode())
        if records[key].null_count():
            return None
        records = records.unnest(key)
    else:
        records = doc
    if records.width == 0 or records.height == 0:
        return None
    columns = []
    for name, dtype in records.schema.items():
        kind = _json_kind(dtype)
        if kind is None:
            return None
        col = records[name]
        if kind != "null":
            counts[kind] += col.len() - col.null_count()
        if dtype == pl.Float64:
            col = _float_text(col)
            if col is None:
                return None
        elif dtype == pl.Boolean:
            col = col.replace_strict([True, False], ["是", "否"], return_dtype=pl.String)
        else:
            col = col.cast(pl.String)
        columns.append(col)
    found = {"string": 0, "number": 0, "bool": 0}
    for first, n in collections.Counter(_JSON_MEMBER.findall(text)).items():
        found[_JSON_MEMBER_KIND.get(first[0], "number")] += n
    if found != counts:
        return None
    names = list(records.columns)
    frame = pl.DataFrame(
        {
            f"c{i}": pl.concat([pl.Series([n], dtype=pl.String), c.rename("")])
            for i, (n, c) in enumerate(zip(names, columns, strict=True))
        }
    )
    return Sheet(None, frame, list(range(frame.height)), encoding)


def _float_text(col: pl.Series) -> pl.Series | None:
    """:func:`_cell_text` of a float column (a whole number below 10¹⁵ without ``.0``; other
    values as Python writes them, computed once per distinct value); None for a value of
    10¹⁵ or more (it may have been an integer in the file: only the reference knows)."""
    if col.is_nan().any() or (col.abs().max() or 0) >= 1e15:
        return None
    fractions = col.filter(col != col.round(0)).unique()
    text = pl.Series([str(v) for v in fractions.to_list()], dtype=pl.String)
    v = pl.col("v")
    return (
        pl.DataFrame({"v": col})
        .select(
            pl.when(v == v.round(0))
            .then(v.cast(pl.Int64).cast(pl.String))
            .otherwise(v.replace_strict(fractions, text, default=None, return_dtype=pl.String))
        )
        .to_series()
        .alias(col.name)
    )


_DIMENSION = re.compile(
    rb"<(?:\w+:)?dimension\s+ref=\"([A-Za-z]{1,3})(\d+)(?::([A-Za-z]{1,3})(\d+))?\""
)
_DIMENSION_SCAN_BYTES = 4096


def _column_number(letters: bytes) -> int:
    number = 0
    for ch in letters.upper():
        number = number * 26 + ch - 64
    return number


def _mb(n: int) -> str:
    return f"{n / (1 << 20):,.1f} MB"


def check_workbook_limits(path: Path, limits: IngestLimits) -> None:
    """Reject an xlsx/xlsm whose zip directory or sheet dimensions are beyond ``limits``.

    Reads only the zip's central directory (the declared uncompressed sizes) and the first few
    KB of each worksheet XML (the ``<dimension ref="A1:XFD1048576"/>`` element), so a
    decompression bomb or a sparse sheet with a huge declared range is ``too_large`` before
    the Excel reader allocates anything for it. A file that is no zip is left to the reader.
    """
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        return
    with archive:
        members = archive.infolist()
        total = sum(m.file_size for m in members)
        if total > limits.max_uncompressed_bytes:
            raise FileRejected(
                f"the workbook unpacks to {_mb(total)}, more than the limit of "
                f"{_mb(limits.max_uncompressed_bytes)} (GONGHUI_MAX_UNCOMPRESSED_MB)",
                code="too_large",
            )
        for member in members:
            name = member.filename
            if not (name.startswith("xl/worksheets/") and name.endswith(".xml")):
                continue
            try:
                with archive.open(member) as fh:
                    head = fh.read(_DIMENSION_SCAN_BYTES)
            except Exception:  # a damaged member: the reader gives the precise message
                continue
            m = _DIMENSION.search(head)
            if not m:
                continue
            c1, r1 = _column_number(m.group(1)), int(m.group(2))
            c2, r2 = (_column_number(m.group(3)), int(m.group(4))) if m.group(3) else (c1, r1)
            rows, columns = abs(r2 - r1) + 1, abs(c2 - c1) + 1
            if rows * columns > limits.max_sheet_cells:
                ref = m.group(0).split(b'"')[1].decode("ascii", "replace")
                raise FileRejected(
                    f"sheet {Path(name).stem} declares the range {ref} ({rows:,} rows × "
                    f"{columns:,} columns = {rows * columns:,} cells), more than the limit of "
                    f"{limits.max_sheet_cells:,} cells (GONGHUI_MAX_SHEET_CELLS)",
                    code="too_large",
                )


def check_limits(path: Path, limits: IngestLimits) -> None:
    """The limits checked before a file is read: size per format, workbook contents."""
    file_format = path.suffix.lower().lstrip(".")
    size = path.stat().st_size
    maximum = limits.max_bytes(file_format)
    if maximum is not None and size > maximum:
        raise FileRejected(
            f"the file is {_mb(size)}, more than the limit of {_mb(maximum)} for .{file_format} "
            f"files (GONGHUI_MAX_{file_format.upper()}_MB)",
            code="too_large",
        )
    if file_format in ("xlsx", "xlsm"):
        check_workbook_limits(path, limits)


def read_sheets(
    path: Path, encodings: tuple[str, ...], limits: IngestLimits | None = None
) -> list[Sheet]:
    """Read ``path`` by its suffix; raise :class:`FileRejected` for anything unusable.

    ``limits`` (default: the settings of the environment) are checked before reading.
    """
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise FileRejected(
            f"unsupported file type '{suffix or path.name}' (expected "
            f"{', '.join(sorted(SUPPORTED_SUFFIXES))})",
            code="unsupported_format",
        )
    if path.stat().st_size == 0:
        raise FileRejected("the file is empty", code="empty")
    if limits is None:
        from orchestration.lib.settings import IngestLimits

        limits = IngestLimits.from_env()
    check_limits(path, limits)
    if suffix == ".csv":
        return read_csv(path, encodings)
    if suffix == ".json":
        return read_json(path, encodings)
    return read_excel(path)

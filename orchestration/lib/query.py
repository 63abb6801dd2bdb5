"""``gonghui sql``: read-only SQL on the published mart, as a table, CSV or JSON.

The connection is opened with ``read_only=True`` on ``published/mart.duckdb``. The pipeline
never writes that file: a publication writes a temporary file next to it and ``os.replace``-s
it into place, so a query never waits for a run and never sees a half-written mart (a query
that started before a swap keeps reading the previous publication to its end).

Every connection is a **sandbox** (:data:`SANDBOX_CONFIG`, given to ``duckdb.connect`` so that
no statement ever runs before it applies): DuckDB's ``enable_external_access = false`` refuses
every file system operation other than reading the mart itself — ``ATTACH`` (the working
database, a history copy), ``COPY … TO``, ``EXPORT``/``IMPORT DATABASE``, ``read_csv`` /
``read_json`` / ``read_parquet`` / ``read_text`` / replacement scans of file names, ``glob``,
``INSTALL``; extensions are neither loaded nor installed, and ``lock_configuration = true``
refuses every ``SET``/``RESET``/``PRAGMA`` that would change a setting (so the sandbox cannot
be switched off from inside). ``read_only=True`` still refuses writes to the mart; temporary
tables live in memory. Refusals are explained by :func:`explain_error`.

One DuckDB instance per file and process: a connection with another configuration to the same
file cannot be open at the same time in the same process (DuckDB refuses it) — the commands
open only sandboxed ones.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import decimal
import io
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import duckdb

FORMATS = ("table", "csv", "json")


#: DuckDB settings of every connection to the published mart (applied at connect time, in this
#: order; ``lock_configuration`` last, so that nothing can be changed back)
SANDBOX_CONFIG = {
    "enable_external_access": False,
    "allow_community_extensions": False,
    "autoload_known_extensions": False,
    "autoinstall_known_extensions": False,
    "lock_configuration": True,
}
#: the start of every refusal of a statement the sandbox does not allow
SANDBOX_REFUSAL = "gonghui sql is read-only and cannot read or write files"


class MartMissingError(FileNotFoundError):
    pass


def connect_published(path: Path) -> duckdb.DuckDBPyConnection:
    """A read-only, sandboxed connection to the published mart (schemas ``main`` and
    ``audit``): no other file can be read, written or attached, no extension loaded, no
    setting changed (:data:`SANDBOX_CONFIG`)."""
    if not path.is_file():
        raise MartMissingError(
            f"no published mart at {path} (run `gonghui run`, or set GONGHUI_WAREHOUSE_DIR)"
        )
    return duckdb.connect(str(path), read_only=True, config=dict(SANDBOX_CONFIG))


def explain_error(exc: duckdb.Error, mart: Path) -> str:
    """The message for a failed statement: DuckDB's own, preceded by why the sandbox refused
    it when it did (a file system operation, an extension, a setting)."""
    message = str(exc).strip()
    refused = isinstance(exc, duckdb.PermissionException) or (
        "configuration has been locked" in message
    )
    if not refused:
        return message
    parquet = mart.parent / "parquet"
    return (
        f"{SANDBOX_REFUSAL}, load extensions or change settings: it queries only the "
        f"published mart {mart}. For files, use the Parquet export under {parquet}/ "
        f"(or a DuckDB client of your own on a copy).\n  (DuckDB: {message.splitlines()[0]})"
    )


@dataclass
class Result:
    columns: list[str]
    rows: list[tuple[Any, ...]]


def run_query(con: duckdb.DuckDBPyConnection, sql: str) -> Result:
    cursor = con.execute(sql)
    if cursor.description is None:
        return Result([], [])
    return Result([d[0] for d in cursor.description], cursor.fetchall())


def _json_value(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return value


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    return str(value)


def _width(text: str) -> int:
    """Display width: CJK and full-width characters take two columns in a terminal."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int, right: bool) -> str:
    fill = " " * (width - _width(text))
    return fill + text if right else text + fill


def format_table(result: Result, max_rows: int | None = None) -> str:
    if not result.columns:
        return "(no result)"
    rows = result.rows if max_rows is None else result.rows[:max_rows]
    cells = [[_text(v).replace("\n", " ") for v in row] for row in rows]
    numeric = [
        bool(rows)
        and all(isinstance(r[i], int | float | decimal.Decimal) or r[i] is None for r in rows)
        for i in range(len(result.columns))
    ]
    widths = [
        max([_width(c)] + [_width(r[i]) for r in cells]) for i, c in enumerate(result.columns)
    ]
    line = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    out = [line]
    out.append(
        "| "
        + " | ".join(_pad(c, w, False) for c, w in zip(result.columns, widths, strict=True))
        + " |"
    )
    out.append(line)
    for row in cells:
        out.append(
            "| "
            + " | ".join(_pad(c, w, n) for c, w, n in zip(row, widths, numeric, strict=True))
            + " |"
        )
    out.append(line)
    shown = f"{len(rows)} of {len(result.rows)} rows" if len(rows) < len(result.rows) else None
    out.append(shown or f"{len(result.rows)} row" + ("" if len(result.rows) == 1 else "s"))
    return "\n".join(out)


def format_csv(result: Result) -> str:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(result.columns)
    for row in result.rows:
        writer.writerow([_text(v) for v in row])
    return buffer.getvalue()


def format_json(result: Result) -> str:
    records = [
        {c: _json_value(v) for c, v in zip(result.columns, row, strict=True)} for row in result.rows
    ]
    return json.dumps(records, ensure_ascii=False, indent=1)


def render(result: Result, fmt: str) -> str:
    if fmt == "csv":
        return format_csv(result)
    if fmt == "json":
        return format_json(result)
    return format_table(result)


def execute(path: Path, sql: str, fmt: str = "table") -> str:
    """Run one statement read-only on the published mart and render it."""
    with connect_published(path) as con:
        return render(run_query(con, sql), fmt)


HELP = """\
Read-only SQL on the published mart. Statements end with ';'. Commands:
  .tables                 list the published tables (schemas main and audit)
  .schema TABLE           columns of a table
  .format table|csv|json  output format
  .quit                   leave (or Ctrl-D)"""


def _meta(con: duckdb.DuckDBPyConnection, command: str, state: dict[str, str], out: TextIO):
    name, _, arg = command.strip().partition(" ")
    arg = arg.strip()
    if name in (".quit", ".exit"):
        return False
    if name == ".tables":
        sql = (
            "select schema_name as schema, table_name as table, estimated_size as rows "
            "from duckdb_tables() order by 1, 2"
        )
        print(format_table(run_query(con, sql)), file=out)
    elif name == ".schema" and arg:
        schema, _, table = arg.rpartition(".")
        sql = (
            "select column_name, data_type from duckdb_columns() "
            "where table_name = ? and (schema_name = ? or ? = '') order by column_index"
        )
        cursor = con.execute(sql, [table, schema or "main", schema])
        print(format_table(Result(["column", "type"], cursor.fetchall())), file=out)
    elif name == ".format" and arg in FORMATS:
        state["format"] = arg
    else:
        print(HELP, file=out)
    return True


def interactive(
    path: Path, fmt: str = "table", stdin: TextIO = sys.stdin, out: TextIO = sys.stdout
):
    """A small read–eval–print loop; a fresh connection per statement, so each statement
    sees the latest publication and never holds the file between statements."""
    tty = stdin.isatty()
    if tty:
        with contextlib.suppress(ImportError):
            import readline  # noqa: F401  (line editing and history)
        print(f"gonghui sql — {path} (read-only). .help for commands.", file=out)
    state = {"format": fmt}
    errors = 0
    buffer: list[str] = []
    while True:
        try:
            line = input("sql> " if not buffer else "...> ") if tty else stdin.readline()
        except EOFError:
            break
        if not tty and line == "":
            break
        if not buffer and line.strip().startswith("."):
            with connect_published(path) as con:
                if not _meta(con, line, state, out):
                    break
            continue
        buffer.append(line.rstrip("\n"))
        statement = "\n".join(buffer).strip()
        if not statement.endswith(";"):
            continue
        buffer.clear()
        errors += not _print_query(path, statement, state["format"], out)
    rest = "\n".join(buffer).strip()
    if rest:  # a last statement without its semicolon
        errors += not _print_query(path, rest, state["format"], out)
    return 1 if errors and not tty else 0


def _print_query(path: Path, statement: str, fmt: str, out) -> bool:
    """Run one statement on a fresh read-only connection and print its result (or the
    error); ``False`` on error."""
    try:
        with connect_published(path) as con:
            print(render(run_query(con, statement), fmt), file=out)
    except duckdb.Error as exc:
        print(f"error: {explain_error(exc, path)}", file=out)
        return False
    return True


def list_tables(path: Path) -> Sequence[tuple[str, str]]:
    with connect_published(path) as con:
        return con.execute(
            "select schema_name, table_name from duckdb_tables() order by 1, 2"
        ).fetchall()

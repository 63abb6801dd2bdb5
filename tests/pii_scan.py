"""Search every file of a warehouse folder for the identity and phone numbers of a landing zone.

Used by the end-to-end PII scans (``tests/test_pipeline_e2e.py``,
``tests/reliability/test_pii.py``). Rather than trusting a regex to recognise personal data,
the scan collects the *actual* identity and mobile numbers written in the landing files
(:func:`landing_secrets`) and looks for exactly those values in every file under the warehouse
(:func:`find_leaks`):

* DuckDB databases (working, published, history): every VARCHAR column of every table, by SQL
  (DuckDB compresses its blocks, so its bytes prove nothing);
* Parquet files: every VARCHAR column, by SQL through DuckDB;
* everything else — Dagster's sqlite storage, logs, dbt's ``run_results.json`` and logs, Data
  Docs HTML, JSON manifests and decision records: the raw bytes, as UTF-8 text.

A value counts however it is written: runs of digits with spaces or hyphens between them are
compacted, and every 11- and 18-character window of the result is looked up, so
``138-1234-5678`` or ``440307 19900101 123X`` in a log are found as well. A run inside a word
or a hex digest (``…a13812345678f…``) does not count: keyed hashes are hex, and among
millions of them some hold a landing phone number's digits by chance.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import duckdb
import polars as pl

from orchestration.lib.identifiers import is_valid_credit_code, is_valid_id_number
from orchestration.lib.mapping import load_mapping
from orchestration.lib.readers import FileRejected, read_sheets

#: a run of digits (and X) with spaces or hyphens between them
TOKEN = r"[0-9][0-9Xx \-]{9,}[0-9Xx]"
#: ... standing alone: not inside a word or a hex digest (a keyed hash's 64 hex characters hold
#: 11-digit runs, and among millions of them some equal a landing phone number by chance)
_ALONE = r"(?<![0-9A-Za-z])" + TOKEN + r"(?![0-9A-Za-z])"
_TOKEN_ALONE = re.compile(_ALONE)
_TOKEN_BYTES = re.compile(_ALONE.encode())
#: the same test in DuckDB's regex dialect (no look-around), to select the values to tokenise
_SQL_ALONE = r"(^|[^0-9A-Za-z])" + TOKEN + r"([^0-9A-Za-z]|$)"
_PHONE = re.compile(r"^(?:\+?86|0086)?(1[3-9][0-9]{9})$")


def _compact(token: str) -> str:
    return re.sub(r"[ \-]", "", token).upper()


def secrets_in(tokens) -> set[str]:
    """The identity numbers (valid check character, not a credit code) and mobile numbers
    among text tokens, in compact upper-case form."""
    found: set[str] = set()
    for token in tokens:
        code = _compact(unicodedata.normalize("NFKC", token))
        phone = _PHONE.match(code)
        if phone:
            found.add(phone.group(1))
        for i in range(len(code) - 17):
            window = code[i : i + 18]
            if is_valid_id_number(window) and not is_valid_credit_code(window):
                found.add(window)
    return found


def landing_secrets(raw_dir: Path) -> set[str]:
    """Every identity and mobile number written in any cell of any file under ``raw_dir``."""
    encodings = load_mapping().csv_encodings
    tokens: set[str] = set()
    for path in sorted(raw_dir.rglob("*")):
        if not path.is_file() or path.is_symlink():
            continue
        try:
            sheets = read_sheets(path, encodings)
        except FileRejected:
            text = path.read_bytes().decode("utf-8", errors="replace")
            tokens |= set(re.findall(TOKEN, unicodedata.normalize("NFKC", text)))
            continue
        for sheet in sheets:
            if not sheet.frame.width:
                continue
            cells = pl.concat([sheet.frame[c] for c in sheet.frame.columns])
            found = (
                cells.drop_nulls()
                .str.normalize("NFKC")
                .str.extract_all(TOKEN)
                .explode()
                .drop_nulls()
                .unique()
            )
            tokens |= set(found.to_list())
    return secrets_in(tokens)


def _windows_hit(token: str, secrets: set[str]) -> str | None:
    code = _compact(token)
    for size in (11, 18):
        for i in range(len(code) - size + 1):
            if code[i : i + size] in secrets:
                return code[i : i + size]
    return None


def _sql_tokens(con: duckdb.DuckDBPyConnection, relation: str, column: str) -> set[str]:
    rows = con.execute(
        f'select distinct "{column}" from {relation} where regexp_matches("{column}", ?)',
        [_SQL_ALONE],
    ).fetchall()
    return {t for (value,) in rows for t in _TOKEN_ALONE.findall(value)}


def _scan_duckdb(path: Path, secrets: set[str]) -> list[str]:
    leaks = []
    with duckdb.connect(str(path), read_only=True) as con:
        columns = con.execute(
            "select c.schema_name, c.table_name, c.column_name from duckdb_columns() c "
            "join duckdb_tables() t on t.database_name = c.database_name "
            "and t.schema_name = c.schema_name and t.table_name = c.table_name "
            "where c.data_type = 'VARCHAR' and c.database_name = current_database()"
        ).fetchall()
        for schema, table, column in columns:
            for token in _sql_tokens(con, f'"{schema}"."{table}"', column):
                hit = _windows_hit(token, secrets)
                if hit:
                    leaks.append(f"{path}: {schema}.{table}.{column} holds {hit}")
                    break
    return leaks


def _scan_parquet(path: Path, secrets: set[str]) -> list[str]:
    leaks = []
    with duckdb.connect() as con:
        relation = f"read_parquet('{path.as_posix()}')"
        columns = con.execute(f"describe select * from {relation}").fetchall()
        for name, dtype, *_rest in columns:
            if dtype != "VARCHAR":
                continue
            for token in _sql_tokens(con, relation, name):
                hit = _windows_hit(token, secrets)
                if hit:
                    leaks.append(f"{path}: column {name} holds {hit}")
                    break
    return leaks


def _scan_bytes(path: Path, secrets: set[str]) -> list[str]:
    data = path.read_bytes()
    for match in _TOKEN_BYTES.finditer(data):
        hit = _windows_hit(match.group(0).decode("ascii"), secrets)
        if hit:
            return [f"{path}: bytes hold {hit}"]
    return []


def find_leaks(warehouse: Path, secrets: set[str]) -> tuple[list[str], dict[str, int]]:
    """(leaks, files scanned per method) for every file under ``warehouse``."""
    leaks: list[str] = []
    scanned = {"duckdb": 0, "parquet": 0, "bytes": 0}
    for path in sorted(warehouse.rglob("*")):
        if not path.is_file() or path.is_symlink():
            continue
        if path.suffix == ".duckdb":
            leaks += _scan_duckdb(path, secrets)
            scanned["duckdb"] += 1
        elif path.suffix == ".parquet":
            leaks += _scan_parquet(path, secrets)
            scanned["parquet"] += 1
        else:
            leaks += _scan_bytes(path, secrets)
            scanned["bytes"] += 1
    return leaks, scanned

"""``gonghui sql`` is a sandbox (issue 10, item 1; issue 15: piped statements).

Reproductions: on a read-only connection an analyst could ``attach`` the working database or a
history copy read-write and change it, ``copy … to`` the published mart (replacing it with a
4-byte file), and read any file (a landing file with names and phones, ``/etc/passwd``). Every
connection of ``gonghui sql`` (and of trace/report, ``connect_published``) now disables
external access and locks its configuration; the refusal says why.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from orchestration.lib.query import SANDBOX_REFUSAL, connect_published

GONGHUI = Path(sys.executable).with_name("gonghui")
ROOT = Path(__file__).resolve().parents[2]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def site(tmp_path):
    """A warehouse folder as a run leaves it: working database, published mart, a history
    copy, and a landing file holding personal data."""
    warehouse = tmp_path / "warehouse"
    published = warehouse / "published"
    history = published / "history" / "20220106T020300Z_run-1"
    history.mkdir(parents=True)
    working = warehouse / "gonghui.duckdb"
    with duckdb.connect(str(working)) as con:
        con.execute("create table main.members as select 1 as id")
    mart = published / "mart.duckdb"
    with duckdb.connect(str(mart)) as con:
        con.execute(
            "create table annual_indicators as select 2021 as year, 'district' as street_code, "
            "'disputes_mediated' as indicator_code, 1046 as value"
        )
        con.execute("create schema audit")
        con.execute("create table audit.source_files as select 'raw/x.csv' as _source_file")
    (history / "mart.duckdb").write_bytes(mart.read_bytes())
    landing = tmp_path / "raw" / "2021" / "buji" / "会员.json"
    landing.parent.mkdir(parents=True)
    landing.write_text(
        json.dumps([{"姓名": "张三丰", "身份证号": "440307199001011234", "手机": "13800138000"}]),
        encoding="utf-8",
    )
    return {
        "mart": mart,
        "working": working,
        "history": history / "mart.duckdb",
        "landing": landing,
    }


def _sql(mart: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(GONGHUI), "sql", "--mart", str(mart), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


HOSTILE = {
    "attach_working_rw": "attach '{working}' as w (read_only false)",
    "attach_history_rw": "attach '{history}' as h (read_only false)",
    "attach_working_ro": "attach '{working}' as w",
    "copy_over_the_mart": "copy (select 'x') to '{mart}'",
    "copy_to_a_file": "copy annual_indicators to '{tmp}/out.csv'",
    "export_database": "export database '{tmp}/export'",
    "read_json_landing": "select * from read_json('{landing}')",
    "replacement_scan": "select * from '{landing}'",
    "read_csv_passwd": "select * from read_csv('/etc/passwd')",
    "read_text_passwd": "select * from read_text('/etc/passwd')",
    "glob": "select * from glob('/etc/*')",
    "install": "install httpfs",
    "load": "load httpfs",
    "set_external_access": "set enable_external_access = true",
    "reset_external_access": "reset enable_external_access",
    "set_threads": "set threads = 1",
    "profiling_output": "pragma profiling_output = '{tmp}/profile.json'",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_statement_is_refused_with_the_reason(site, tmp_path, name):
    before = {k: _sha(site[k]) for k in ("mart", "working", "history")}
    statement = HOSTILE[name].format(tmp=tmp_path, **site)
    proc = _sql(site["mart"], statement)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert SANDBOX_REFUSAL in proc.stderr, proc.stderr
    assert str(site["mart"].parent / "parquet") in proc.stderr, "names the Parquet export"
    # nothing changed, nothing written, nothing read
    assert {k: _sha(site[k]) for k in before} == before
    assert not any(tmp_path.glob("out.csv")) and not (tmp_path / "export").exists()
    assert not (tmp_path / "profile.json").exists()
    assert "张三丰" not in proc.stdout + proc.stderr and "root:" not in proc.stdout


def test_the_issue_reproduction_in_one_session_changes_nothing(site):
    """The whole attack of the issue, piped: every statement refused, exit code 1."""
    script = (
        f"attach '{site['working']}' as w (read_only false);\n"
        "create table w.main.x as select 1;\n"
        f"attach '{site['history']}' as h (read_only false);\n"
        "update h.main.annual_indicators set value = 999999999;\n"
        f"copy (select 'x') to '{site['mart']}';\n"
        f"select * from read_json('{site['landing']}');\n"
        "select * from read_csv('/etc/shadow');\n"
    )
    before = {k: _sha(site[k]) for k in ("mart", "working", "history")}
    proc = _sql(site["mart"], stdin=script)
    assert proc.returncode == 1
    assert proc.stdout.count(SANDBOX_REFUSAL) == 5, proc.stdout
    assert {k: _sha(site[k]) for k in before} == before
    with duckdb.connect(str(site["working"]), read_only=True) as con:
        assert con.execute(
            "select count(*) from duckdb_tables() where table_name = 'x'"
        ).fetchone() == (0,)
    assert "张三丰" not in proc.stdout


def test_piped_statements_exit_non_zero_when_one_failed(site):
    ok = _sql(site["mart"], stdin="select 1 as a;\nselect 2 as b;\n")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    failed = _sql(site["mart"], stdin="select 1 as a;\nselect * from no_such_table;\nselect 3;\n")
    assert failed.returncode == 1, failed.stdout
    assert "no_such_table" in failed.stdout and "3" in failed.stdout, "carries on, then fails"
    dash = _sql(site["mart"], "-", stdin="select nope;\n")
    assert dash.returncode == 1


def test_writes_still_say_read_only(site):
    proc = _sql(site["mart"], "delete from annual_indicators")
    assert proc.returncode == 1
    assert "read-only" in proc.stderr.lower()


def test_ordinary_queries_work(site):
    proc = _sql(
        site["mart"],
        "--format",
        "csv",
        "select street_code, value from annual_indicators join audit.source_files on true",
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["street_code,value", "district,1046"]
    script = (
        ".tables\nwith t as (select value * 2 as v from annual_indicators) select v from t;\n"
        "summarize annual_indicators;\ndescribe annual_indicators;\nshow tables;\n"
    )
    proc = _sql(site["mart"], "--format", "csv", stdin=script)
    assert proc.returncode == 0, proc.stdout
    assert "2092" in proc.stdout


def test_connect_published_is_sandboxed_in_process(site):
    """trace and report open the mart through ``connect_published``: the same sandbox."""
    with connect_published(site["mart"]) as con:
        assert con.execute("select value from annual_indicators").fetchone() == (1046,)
        with pytest.raises(duckdb.PermissionException):
            con.execute(f"select * from read_json('{site['landing']}')")
        with pytest.raises(duckdb.Error, match="locked"):
            con.execute("set enable_external_access = true")


# ---------------------------------------------------------------- the documented queries


def _documented_queries() -> list[tuple[str, str]]:
    """Every SQL example of the README and docs/analysts.md: the ```sql blocks and the
    ``gonghui sql "…"`` command lines."""
    found = []
    for doc in (ROOT / "README.md", ROOT / "docs" / "analysts.md", ROOT / "docs" / "auditors.md"):
        text = doc.read_text(encoding="utf-8")
        for i, block in enumerate(re.findall(r"```sql\n(.*?)```", text, re.S)):
            found.append((f"{doc.name}:block{i}", block.strip().rstrip(";")))
        commands = re.findall(r'gonghui sql (?:--format \w+\s+)?"(.*?)"', text, re.S)
        for i, query in enumerate(commands):
            found.append((f"{doc.name}:cmd{i}", re.sub(r"\s+", " ", query)))
    return found


@pytest.mark.xdist_group("published_demo")  # shares tests/lib's published demo build
def test_every_documented_query_still_works(demo):
    queries = _documented_queries()
    assert len(queries) >= 8, queries
    for name, query in queries:
        proc = demo.gonghui("sql", "--format", "csv", query, timeout=60)
        assert proc.returncode == 0, f"{name}: {query}\n{proc.stderr}"
        assert proc.stdout.strip(), name

"""Publications are immutable and verified; a failed publication cleans up (issue 10, items 1
and 9).

Reproductions: the history copy was a hard link of the published mart, so changing it (or the
mart) in place changed both and the next run said UP TO DATE; a mart replaced by a 4-byte file
was kept as well. A full disk during publication left ``.mart-<run>.duckdb.tmp.wal`` for good
and the summary never said "No space left on device".
"""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from conftest import PII_KEY, make_credit_code, record_publication

from orchestration.lib import publish
from orchestration.lib.fingerprint import pending_work
from orchestration.lib.ingest import ingest
from orchestration.lib.ingest.files import sha256_of
from orchestration.lib.mapping import DEFAULT_MAPPING_PATH, load_mapping
from orchestration.lib.publish import PublicationError, mart_mismatch, publish_mart
from orchestration.lib.settings import Settings
from orchestration.lib.summary import failure_message

ENOSPC = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.fixture
def working(tmp_path) -> Path:
    """A working database with a tiny mart and an audit table."""
    path = tmp_path / "gonghui.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts")
        con.execute("create schema audit")
        con.execute(
            "create table marts.annual_indicators as select 2021 as year, s as street_code, "
            "'disputes_mediated' as indicator_code, 10 * i as value "
            "from (values ('buji', 1), ('pinghu', 2), ('district', 3)) t(s, i)"
        )
        con.execute("create table audit.source_files as select 'raw/a.csv' as _source_file")
    return path


def _published(tmp_path: Path) -> Path:
    return tmp_path / "published" / "mart.duckdb"


def _value(mart: Path, street: str = "district") -> int:
    with duckdb.connect(str(mart), read_only=True) as con:
        return con.execute(
            "select value from annual_indicators where street_code = ?", [street]
        ).fetchone()[0]


def test_published_mart_and_history_are_separate_read_only_files(working, tmp_path):
    target = _published(tmp_path)
    publication = publish_mart(working, target, "run-1")
    kept = publication.history_dir / "mart.duckdb"
    assert target.stat().st_ino != kept.stat().st_ino, "a copy, not a hard link"
    assert target.stat().st_nlink == 1 and kept.stat().st_nlink == 1
    for path in (target, kept):
        assert stat.S_IMODE(path.stat().st_mode) == 0o444, path
    manifest = json.loads((target.parent / "manifest.json").read_text("utf-8"))
    assert manifest["mart"]["sha256"] == sha256_of(target) == sha256_of(kept)
    assert manifest["mart"]["bytes"] == target.stat().st_size
    assert mart_mismatch(target, manifest) is None
    # a second publication replaces the read-only file and keeps its own copy
    second = publish_mart(working, target, "run-2")
    assert second.history_dir != publication.history_dir
    assert stat.S_IMODE(target.stat().st_mode) == 0o444


def test_changing_a_history_copy_leaves_the_published_mart(working, tmp_path):
    """The issue's attack on the history copy: attach it read-write and update a figure."""
    target = _published(tmp_path)
    publication = publish_mart(working, target, "run-1")
    kept = publication.history_dir / "mart.duckdb"
    before = sha256_of(target)
    os.chmod(kept, 0o644)  # what an owner (or root) can always do
    with duckdb.connect(str(kept)) as con:
        con.execute("update annual_indicators set value = 999999999 where street_code = 'district'")
    assert _value(kept) == 999999999
    assert _value(target) == 30
    assert sha256_of(target) == before


def _update_in_place(mart: Path) -> None:
    os.chmod(mart, 0o644)
    with duckdb.connect(str(mart)) as con:
        con.execute("update annual_indicators set value = 999999999 where street_code = 'district'")


def test_mart_mismatch_detects_an_in_place_update_replacement_and_removal(working, tmp_path):
    target = _published(tmp_path)
    manifest = publish_mart(working, target, "run-1").manifest
    size, mtime = target.stat().st_size, target.stat().st_mtime_ns

    # one block overwritten in place, size and mtime as before: only the content differs
    os.chmod(target, 0o644)
    with target.open("r+b") as fh:
        fh.seek(size // 2)
        byte = fh.read(1)
        fh.seek(size // 2)
        fh.write(bytes([byte[0] ^ 0xFF]))
    os.utime(target, ns=(mtime, mtime))
    assert target.stat().st_size == size
    problem = mart_mismatch(target, manifest)
    assert problem and "did not match its manifest" in problem and "sha256" in problem

    manifest = publish_mart(working, target, "run-2").manifest
    assert mart_mismatch(target, manifest) is None
    _update_in_place(target)  # the UPDATE through DuckDB
    assert "did not match its manifest" in mart_mismatch(target, manifest)

    target.write_bytes(b"x\n\n\n")  # `copy (select 'x') to 'mart.duckdb'`
    assert "did not match its manifest" in mart_mismatch(target, manifest)

    target.unlink()
    assert "missing" in mart_mismatch(target, manifest)
    assert "no sha256" in mart_mismatch(target, {"mart": {}})


CC = make_credit_code("91440300MA5F00001")
HEADER = ["案件编号", "受理日期", "企业名称", "统一社会信用代码", "涉及人数", "挽回经济损失（元）"]


@pytest.fixture
def ingested(landing, tmp_path, monkeypatch) -> Settings:
    landing.csv("buji", "纠纷.csv", [HEADER, ["B1", "2021-03-05", "甲公司", CC, 3, "100"]])
    mapping = tmp_path / "sources.yml"
    mapping.write_bytes(DEFAULT_MAPPING_PATH.read_bytes())
    monkeypatch.setenv("GONGHUI_RAW_DIR", str(landing.root))
    monkeypatch.setenv("GONGHUI_WAREHOUSE_DIR", str(tmp_path / "warehouse"))
    monkeypatch.setenv("GONGHUI_MAPPING", str(mapping))
    monkeypatch.setenv("GONGHUI_PII_KEY", PII_KEY.decode())
    settings = Settings.from_env()
    settings.warehouse_dir.mkdir()
    with duckdb.connect(str(settings.duckdb_path)) as con:
        ingest(landing.root, con, load_mapping(mapping), "run-1", key=PII_KEY)
    record_publication(settings)
    return settings


@pytest.mark.parametrize(
    "damage",
    ["same_size_change", "replaced_by_4_bytes", "removed", "manifest_without_sha256"],
)
def test_a_damaged_publication_is_not_up_to_date(ingested, damage):
    settings = ingested
    mart, manifest_path = settings.published_mart, settings.published_dir / "manifest.json"
    assert pending_work(settings).nothing_to_do
    if damage == "same_size_change":
        mart.write_bytes(b"MART")
    elif damage == "replaced_by_4_bytes":
        mart.write_bytes(b"x\n\n\n")
    elif damage == "removed":
        mart.unlink()
    else:
        manifest = json.loads(manifest_path.read_text("utf-8"))
        del manifest["mart"]
        manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    work = pending_work(settings)
    assert not work.nothing_to_do
    assert work.changed_streets == [] and work.mart_problem, "republish, nothing to re-read"


# ------------------------------------------------------------------- a failed publication


def _leftovers(published: Path) -> list[str]:
    return sorted(
        str(p.relative_to(published)) for p in published.rglob("*") if p.name.startswith(".")
    )


def test_full_disk_while_copying_history_cleans_up(working, tmp_path, monkeypatch):
    target = _published(tmp_path)
    first = publish_mart(working, target, "run-1")
    before = sha256_of(target)

    def no_space(src, dst, *args, **kwargs):
        Path(dst).write_bytes(b"half a mart")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dst))

    monkeypatch.setattr(publish, "_copy_read_only", no_space)
    with pytest.raises(PublicationError, match="No space left on device") as failed:
        publish_mart(working, target, "run-2")
    assert "unchanged" in str(failed.value)
    assert sha256_of(target) == before
    assert _leftovers(target.parent) == [], "no .tmp, .wal or .partial left"
    assert [p.name for p in (target.parent / "history").iterdir()] == [first.history_dir.name]
    manifest = json.loads((target.parent / "manifest.json").read_text("utf-8"))
    assert manifest["run_id"] == "run-1"


@pytest.mark.parametrize("error", [ENOSPC, ValueError("a bad record")])
def test_a_failure_after_the_history_copy_removes_it(working, tmp_path, error):
    """The history copy (which hashes the new mart) is written before the manifest is
    complete: a failure in between leaves neither the ``.partial`` folder nor an entry."""
    target = _published(tmp_path)
    first = publish_mart(working, target, "run-1")

    def failing_record(publication):
        assert len(publication.sha256) == 64  # hashed by the history copy, already made
        raise error

    with pytest.raises(PublicationError if isinstance(error, OSError) else ValueError):
        publish_mart(working, target, "run-2", record=failing_record)
    assert _leftovers(target.parent) == []
    assert [p.name for p in (target.parent / "history").iterdir()] == [first.history_dir.name]
    assert json.loads((target.parent / "manifest.json").read_text("utf-8"))["run_id"] == "run-1"


def test_without_history_the_manifest_still_records_the_sha256(working, tmp_path):
    target = _published(tmp_path)
    publication = publish_mart(working, target, "run-1", keep_history=False)
    assert publication.history_dir is None and not (target.parent / "history").exists()
    assert publication.manifest["mart"]["sha256"] == sha256_of(target)


def test_full_disk_while_writing_the_database_removes_its_wal(working, tmp_path, monkeypatch):
    """DuckDB leaves ``<file>.wal`` beside a database it could not checkpoint: the failed
    publication removes it with the temporary mart."""
    target = _published(tmp_path)
    publish_mart(working, target, "run-1")
    before = sha256_of(target)
    real_fsync = publish._fsync

    def fsync_no_space(path: Path) -> None:
        if path.name.endswith(".tmp"):
            path.with_name(path.name + ".wal").write_bytes(b"wal")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(path)

    monkeypatch.setattr(publish, "_fsync", fsync_no_space)
    with pytest.raises(PublicationError, match="No space left on device"):
        publish_mart(working, target, "run-2")
    assert sha256_of(target) == before
    assert _leftovers(target.parent) == []


def test_leftovers_of_a_killed_publication_are_removed(working, tmp_path):
    published = tmp_path / "published"
    (published / "history" / ".20220101T000000Z_dead.partial").mkdir(parents=True)
    (published / "history" / ".20220101T000000Z_dead.partial" / "mart.duckdb").write_bytes(b"x")
    for name in (".mart-dead.duckdb.tmp", ".mart-dead.duckdb.tmp.wal"):
        (published / name).write_bytes(b"x")
    publish_mart(working, published / "mart.duckdb", "run-1")
    assert _leftovers(published) == []


def test_the_os_error_reaches_the_run_summary(working, tmp_path, monkeypatch):
    """Dagster wraps the asset's exception; the summary line (and the decision record, which
    stores the same lines) names the OS error."""
    target = _published(tmp_path)

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(target.parent / "x"))

    monkeypatch.setattr(publish, "_copy_read_only", no_space)

    @dg.asset
    def published_mart():
        publish_mart(working, target, "run-x")

    # an instance of its own, entered: resolving the job must not see the defs-state storage
    # of an instance an earlier test in this worker left behind
    with dg.instance_for_test() as instance:
        result = dg.materialize([published_mart], instance=instance, raise_on_error=False)
    assert not result.success
    (event,) = result.get_step_failure_events()
    message = failure_message(event)
    assert "No space left on device" in message, message
    assert "PublicationError" in message and "Error occurred while executing" not in message


# ---------------------------------------------------------- the whole pipeline (demo data)


@pytest.mark.xdist_group("published_demo")  # shares tests/lib's published demo build
def test_gonghui_run_republishes_a_mart_changed_in_place(demo):
    """The issue's reproduction end to end: a figure of the published mart changed in place;
    the next `gonghui run` does not say UP TO DATE, republishes and says why; the run after
    it is UP TO DATE again."""
    where = "year = 2021 and street_code = 'district' and indicator_code = 'disputes_mediated'"
    query = f"select value from annual_indicators where {where}"
    with duckdb.connect(str(demo.mart), read_only=True) as con:
        (published_value,) = con.execute(query).fetchone()
    os.chmod(demo.mart, 0o644)
    with duckdb.connect(str(demo.mart)) as con:
        con.execute(f"update annual_indicators set value = 999999999 where {where}")
    run = demo.gonghui("run")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "UP TO DATE" not in run.stdout
    assert "published mart did not match its manifest" in run.stdout
    assert "republished" in run.stdout and "PUBLISHED" in run.stdout
    with duckdb.connect(str(demo.mart), read_only=True) as con:
        assert con.execute(query).fetchone() == (published_value,)
    again = demo.gonghui("run")
    assert again.returncode == 0 and "UP TO DATE" in again.stdout, again.stdout[-2000:]

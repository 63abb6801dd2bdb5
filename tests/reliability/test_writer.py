"""One writer, and it recovers (issue 10, items 3, 7, 8).

* the writer lock: re-entrant within a process, exclusive across processes, released when its
  holder dies;
* a second ``gonghui run`` is refused at once with a message naming the running run (or waits
  with ``--wait``); a Dagster run that finds the lock held fails with that message;
* run records orphaned by a killed run are marked failed and no longer stall the schedule or
  the sensor;
* a damaged (truncated) working database is moved aside and the run rebuilds it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import duckdb
import pytest
from conftest import PII_KEY, make_credit_code

from orchestration.defs.ingest.resources import WarehouseResource
from orchestration.defs.ingest.schedules import nightly_schedule
from orchestration.defs.ingest.sensors import landing_sensor
from orchestration.defs.jobs import GONGHUI_JOB_NAME
from orchestration.defs.runs import fail_orphaned_runs, in_progress_runs
from orchestration.lib import writer
from orchestration.lib.writer import (
    EXIT_BUSY,
    WriterBusy,
    current_holder,
    recover_damaged_database,
    writer_lock,
)

GONGHUI = str(Path(sys.executable).with_name("gonghui"))
CC = make_credit_code("91440300MA5F00001")
HEADER = ["案件编号", "受理日期", "企业名称", "统一社会信用代码", "涉及人数", "挽回经济损失（元）"]

HOLD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from orchestration.lib.writer import acquire
    acquire(Path(sys.argv[1]), trigger="test-holder", run_id="run-held-by-child")
    print("locked", flush=True)
    time.sleep(600)
    """
)


@pytest.fixture
def holder_process(tmp_path):
    """Start a child process that holds the writer lock of ``tmp_path/warehouse``."""
    procs = []

    def start(warehouse: Path) -> subprocess.Popen:
        proc = subprocess.Popen(
            [sys.executable, "-c", HOLD, str(warehouse)],
            stdout=subprocess.PIPE,
            text=True,
        )
        procs.append(proc)
        assert proc.stdout.readline().strip() == "locked"
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        proc.stdout.close()


# ---------------------------------------------------------------------------------- the lock


def test_the_lock_is_reentrant_within_a_process(tmp_path):
    warehouse = tmp_path / "warehouse"
    with writer_lock(warehouse, trigger="cli") as outer:
        assert outer.run_id is None and outer.pid == os.getpid()
        # the in-process run takes it again (a second open file description would conflict)
        with writer_lock(warehouse, trigger="dagster", run_id="run-1") as inner:
            assert inner.run_id == "run-1" and inner.trigger == "cli"
            recorded = json.loads((warehouse / ".writer.lock").read_text())
            assert recorded["run_id"] == "run-1" and recorded["pid"] == os.getpid()
        assert writer.held_here(warehouse)  # the outer holder still holds it
        assert current_holder(warehouse).run_id == "run-1"
    assert not writer.held_here(warehouse)
    assert current_holder(warehouse) is None


def test_the_lock_conflicts_across_processes_and_dies_with_its_holder(tmp_path, holder_process):
    warehouse = tmp_path / "warehouse"
    child = holder_process(warehouse)
    holder = current_holder(warehouse)
    assert (holder.pid, holder.run_id, holder.trigger) == (
        child.pid,
        "run-held-by-child",
        "test-holder",
    )
    started = time.monotonic()
    with pytest.raises(WriterBusy) as busy:
        writer.acquire(warehouse, trigger="cli")
    assert time.monotonic() - started < writer.ACQUIRE_GRACE_SECONDS + 2
    assert "run-held-by-child" in str(busy.value) and f"pid {child.pid}" in str(busy.value)
    assert not writer.held_here(warehouse)

    child.send_signal(signal.SIGKILL)  # the kernel releases the lock of a killed process
    child.wait(timeout=10)
    assert current_holder(warehouse) is None
    with writer_lock(warehouse, trigger="cli") as mine:
        assert mine.pid == os.getpid()


def test_wait_blocks_until_the_holder_ends(tmp_path, holder_process):
    warehouse = tmp_path / "warehouse"
    child = holder_process(warehouse)
    told = []

    def on_wait(holder):
        told.append(holder)
        child.terminate()  # the running run ends while we wait

    with writer_lock(warehouse, trigger="cli", wait=True, on_wait=on_wait, poll_seconds=0.05):
        assert told and told[0].run_id == "run-held-by-child"
        assert current_holder(warehouse).pid == os.getpid()


# ---------------------------------------------------------------------------------- the CLI


def _env(tmp_path: Path, **extra) -> dict[str, str]:
    raw = tmp_path / "raw" / "2021" / "buji"
    raw.mkdir(parents=True, exist_ok=True)
    (raw / "纠纷.csv").write_text(",".join(HEADER) + "\n", encoding="utf-8")
    return {
        **os.environ,
        "GONGHUI_RAW_DIR": str(tmp_path / "raw"),
        "GONGHUI_WAREHOUSE_DIR": str(tmp_path / "warehouse"),
        "GONGHUI_PII_KEY": PII_KEY.decode(),
        **extra,
    }


def test_a_second_gonghui_run_is_refused_at_once_naming_the_running_run(tmp_path, holder_process):
    child = holder_process(tmp_path / "warehouse")
    started = time.monotonic()
    proc = subprocess.run(
        [GONGHUI, "run"], env=_env(tmp_path), capture_output=True, text=True, timeout=60
    )
    elapsed = time.monotonic() - started
    assert proc.returncode == EXIT_BUSY, proc.stdout + proc.stderr
    assert "run-held-by-child" in proc.stderr and f"pid {child.pid}" in proc.stderr
    assert "trigger test-holder" in proc.stderr and "--wait" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert elapsed < 8, elapsed
    assert not (tmp_path / "warehouse" / "gonghui.duckdb").exists()  # nothing was touched


def test_gonghui_run_wait_says_it_waits(tmp_path, holder_process):
    child = holder_process(tmp_path / "warehouse")
    proc = subprocess.Popen(
        [GONGHUI, "run", "--wait"],
        env=_env(tmp_path, GONGHUI_RAW_DIR=str(tmp_path / "empty-landing")),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline()
    assert "waiting for the writer lock" in line and "run-held-by-child" in line
    assert proc.poll() is None  # still waiting
    child.kill()
    out, err = proc.communicate(timeout=60)
    # it got the lock and ran (here: refused for the empty landing root, a normal exit)
    assert proc.returncode == 2 and "no landing files" in err, out + err


# ---------------------------------------------------------------------------------- Dagster


def _warehouse(tmp_path: Path) -> WarehouseResource:
    return WarehouseResource(
        raw_dir=str(tmp_path / "raw"), warehouse_dir=str(tmp_path / "warehouse")
    )


def test_a_dagster_run_that_finds_the_lock_held_fails_at_once_with_the_message(
    tmp_path, holder_process, monkeypatch
):
    from orchestration.definitions import defs

    monkeypatch.setenv("GONGHUI_RAW_DIR", str(tmp_path / "raw"))
    monkeypatch.setenv("GONGHUI_WAREHOUSE_DIR", str(tmp_path / "warehouse"))
    child = holder_process(tmp_path / "warehouse")
    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def(GONGHUI_JOB_NAME).execute_in_process(
            instance=instance, raise_on_error=False, tags={"gonghui/trigger": "landing_sensor"}
        )
    assert not result.success
    [failure] = result.get_step_failure_events()
    assert failure.step_key == "landing_tables"
    message = failure.event_specific_data.error.message
    assert "run-held-by-child" in message and f"pid {child.pid}" in message
    assert not (tmp_path / "warehouse" / "gonghui.duckdb").exists()
    # and the holder still holds its lock (the failed run did not release it)
    assert current_holder(tmp_path / "warehouse").pid == child.pid


def _orphan(instance: dg.DagsterInstance, status: dg.DagsterRunStatus) -> str:
    """A run record as a killed run leaves it: in progress, its process gone."""
    run_id = str(uuid.uuid4())
    instance.add_run(dg.DagsterRun(job_name=GONGHUI_JOB_NAME, run_id=run_id, status=status))
    return run_id


def _schedule_tick(instance, warehouse):
    with dg.build_schedule_context(
        instance=instance,
        scheduled_execution_time=dt.datetime(2022, 1, 7, 2, 0, tzinfo=ZoneInfo("Asia/Shanghai")),
        resources={"warehouse": warehouse},
    ) as context:
        return nightly_schedule(context)


def test_runs_orphaned_by_a_kill_are_marked_failed_and_no_longer_stall_the_schedule(
    tmp_path, holder_process, monkeypatch
):
    monkeypatch.setenv("GONGHUI_WAREHOUSE_DIR", str(tmp_path / "warehouse"))
    warehouse = _warehouse(tmp_path)
    (tmp_path / "raw").mkdir()
    with dg.instance_for_test() as instance:
        orphans = [
            _orphan(instance, status)
            for status in (
                dg.DagsterRunStatus.STARTED,
                dg.DagsterRunStatus.NOT_STARTED,
                dg.DagsterRunStatus.STARTING,
                dg.DagsterRunStatus.CANCELING,
            )
        ]
        # just launched: it may not have taken the lock yet, so it still blocks
        skip = _schedule_tick(instance, warehouse)
        assert isinstance(skip, dg.SkipReason) and "still in progress" in skip.skip_message

        # while a live process holds the lock nothing is orphaned, whatever its age
        child = holder_process(tmp_path / "warehouse")
        assert fail_orphaned_runs(instance, tmp_path / "warehouse", grace_seconds=0) == []
        assert "run-held-by-child" in _schedule_tick(instance, warehouse).skip_message
        child.kill()
        child.wait(timeout=10)

        monkeypatch.setattr("orchestration.defs.runs.ORPHAN_GRACE_SECONDS", 0.0)
        request = _schedule_tick(instance, warehouse)
        assert isinstance(request, dg.RunRequest), request
        for run_id in orphans:
            run = instance.get_run_by_id(run_id)
            assert run.status == dg.DagsterRunStatus.FAILURE
            [failure] = instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
            assert "no live writer" in failure.dagster_event.message
        assert in_progress_runs(instance, tmp_path / "warehouse") == []


def test_the_sensor_no_longer_stalls_on_an_orphaned_run(tmp_path, monkeypatch):
    monkeypatch.setenv("GONGHUI_WAREHOUSE_DIR", str(tmp_path / "warehouse"))
    raw = tmp_path / "raw" / "2021" / "buji"
    raw.mkdir(parents=True)
    (raw / "纠纷.csv").write_text(
        ",".join(HEADER) + f"\nB1,2021-03-05,甲公司,{CC},3,100\n", encoding="utf-8"
    )
    resources = {"warehouse": _warehouse(tmp_path)}
    with dg.instance_for_test() as instance:
        orphan = _orphan(instance, dg.DagsterRunStatus.STARTED)
        with dg.build_sensor_context(instance=instance, resources=resources) as context:
            assert orphan in landing_sensor(context).skip_message
        monkeypatch.setattr("orchestration.defs.runs.ORPHAN_GRACE_SECONDS", 0.0)
        with dg.build_sensor_context(instance=instance, resources=resources) as context:
            result = landing_sensor(context)
        assert [r.tags["gonghui/trigger"] for r in result.run_requests] == ["landing_sensor"]
        assert instance.get_run_by_id(orphan).status == dg.DagsterRunStatus.FAILURE


# ---------------------------------------------------------------------------------- damage


def _database(path: Path, rows: int = 2_000_000) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(path)) as con:
        con.execute("create schema raw")
        con.execute(
            f"create table raw.source_files as select range as i, md5(range::varchar) as s "
            f"from range({rows})"
        )


def test_a_truncated_database_is_moved_aside(tmp_path):
    warehouse = tmp_path / "warehouse"
    db = warehouse / "gonghui.duckdb"
    _database(db)
    assert recover_damaged_database(warehouse, db) is None  # a sound database stays
    assert db.exists()

    os.truncate(db, db.stat().st_size // 2)
    size = db.stat().st_size
    recovery = recover_damaged_database(warehouse, db)
    assert recovery is not None and "Could not read" in recovery.reason
    assert not db.exists() and recovery.moved_to.parent == warehouse / "damaged"
    assert (
        recovery.moved_to.name.startswith("gonghui-") and recovery.moved_to.stat().st_size == size
    )
    assert "moved" in recovery.warning() and str(recovery.moved_to) in recovery.warning()

    db.write_bytes(b"not a duckdb file" * 1000)  # an overwritten file, and a WAL beside it
    db.with_name("gonghui.duckdb.wal").write_bytes(b"wal")
    again = recover_damaged_database(warehouse, db)
    assert again is not None and again.moved_to != recovery.moved_to
    assert again.moved_to.with_name(again.moved_to.name + ".wal").read_bytes() == b"wal"
    assert not db.with_name("gonghui.duckdb.wal").exists()


def test_a_database_locked_by_another_process_is_not_damage(tmp_path):
    db = tmp_path / "warehouse" / "gonghui.duckdb"
    _database(db, rows=10)
    code = (
        f"import duckdb, time; c = duckdb.connect({str(db)!r}); "
        "print('open', flush=True); time.sleep(60)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "open"
        with pytest.raises(writer.DatabaseInUse, match="open in another process"):
            recover_damaged_database(tmp_path / "warehouse", db)
        assert db.exists() and not (tmp_path / "warehouse" / "damaged").exists()
        # and `gonghui run` says so, without a traceback
        env = {**_env(tmp_path), "GONGHUI_WAREHOUSE_DIR": str(tmp_path / "warehouse")}
        run = subprocess.run([GONGHUI, "run"], env=env, capture_output=True, text=True)
        assert run.returncode == EXIT_BUSY, run.stdout + run.stderr
        assert "open in another process" in run.stderr and "Traceback" not in run.stderr
        assert db.exists() and not (tmp_path / "warehouse" / "damaged").exists()
    finally:
        proc.kill()
        proc.wait(timeout=10)
        proc.stdout.close()


def test_a_dagster_run_moves_a_damaged_database_aside_and_ingests_every_street(
    tmp_path, monkeypatch
):
    """A run launched by the daemon (here: one street's partition) finds the working database
    damaged: it is moved aside, and the new database gets every street."""
    from orchestration.defs.ingest.assets import landing_tables
    from orchestration.defs.ingest.partitions import partition_range_tags

    for street in ("buji", "pinghu"):
        folder = tmp_path / "raw" / "2021" / street
        folder.mkdir(parents=True)
        (folder / "纠纷.csv").write_text(
            ",".join(HEADER) + f"\n{street}1,2021-03-05,甲公司,{CC},3,100\n", encoding="utf-8"
        )
    monkeypatch.setenv("GONGHUI_PII_KEY", PII_KEY.decode())
    db = tmp_path / "warehouse" / "gonghui.duckdb"
    _database(db, rows=500_000)
    os.truncate(db, db.stat().st_size // 3)
    warehouse = _warehouse(tmp_path)
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [landing_tables],
            instance=instance,
            resources={"warehouse": warehouse},
            tags=partition_range_tags(["buji"]),
        )
        assert result.success
        moved = instance.get_run_by_id(result.run_id).tags[writer.RECOVERED_TAG]
    [damaged] = (tmp_path / "warehouse" / "damaged").iterdir()
    assert str(damaged) == moved
    assert current_holder(tmp_path / "warehouse") is None  # released at the end of the run
    with duckdb.connect(str(tmp_path / "warehouse" / "gonghui.duckdb"), read_only=True) as con:
        streets = {
            r[0] for r in con.execute("select street_code from raw.dispute_cases").fetchall()
        }
    assert streets == {"buji", "pinghu"}


# ---------------------------------------------------------------------------------- instance


def test_the_instance_config_turns_on_run_monitoring_and_a_run_queue_of_one(tmp_path):
    from orchestration.lib.instance_config import WRITER_TAG, ensure_instance_config

    fresh = tmp_path / "fresh"
    assert ensure_instance_config(fresh) == [
        "telemetry",
        "run_monitoring",
        "run_coordinator",
        "concurrency",
    ]
    assert ensure_instance_config(fresh) == []  # idempotent
    instance = dg.DagsterInstance.from_config(str(fresh))
    assert instance.run_monitoring_enabled and instance.run_monitoring_max_resume_run_attempts == 0
    assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
    queue = instance.get_concurrency_config().run_queue_config
    assert queue.max_concurrent_runs == 1
    assert queue.tag_concurrency_limits == [{"key": WRITER_TAG, "limit": 1}]
    from orchestration.defs.jobs import gonghui_job

    assert gonghui_job.tags[WRITER_TAG] == "warehouse"

    # an instance written by an older gonghui (telemetry only) is upgraded, keeping its text
    old = tmp_path / "old"
    old.mkdir()
    (old / "dagster.yaml").write_text("# operator's note\ntelemetry:\n  enabled: false\n")
    assert ensure_instance_config(old) == ["run_monitoring", "run_coordinator", "concurrency"]
    text = (old / "dagster.yaml").read_text()
    assert text.startswith("# operator's note\ntelemetry:\n  enabled: false\n")
    assert list(old.glob("dagster.yaml.bak-*"))
    assert dg.DagsterInstance.from_config(str(old)).run_monitoring_enabled

    # an operator's own run queue is left alone (Dagster refuses limits set in two places)
    own = tmp_path / "own"
    own.mkdir()
    (own / "dagster.yaml").write_text("run_queue:\n  max_concurrent_runs: 3\n")
    assert ensure_instance_config(own) == ["telemetry", "run_monitoring"]
    instance = dg.DagsterInstance.from_config(str(own))
    assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 3


# ---------------------------------------------------------------------------------- e2e


@pytest.mark.e2e
@pytest.mark.xdist_group("e2e")
def test_gonghui_run_recovers_a_truncated_working_database(tmp_path):
    """``truncate`` the working database: the next ``gonghui run`` moves it aside, re-reads
    every landing file, rebuilds every model and publishes, with a warning in its summary."""
    env = _env(tmp_path)
    (tmp_path / "raw" / "2021" / "buji" / "纠纷.csv").unlink()
    subprocess.run(
        [GONGHUI, "demo-data", "--scale", "0.1"], env=env, check=True, capture_output=True
    )
    warehouse = tmp_path / "warehouse"
    db = warehouse / "gonghui.duckdb"
    _database(db)  # stands in for the last run's database (a real run takes as long again)
    os.truncate(db, 20_000_000 // 2)
    proc = subprocess.run([GONGHUI, "run"], env=env, capture_output=True, text=True, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-5000:]
    assert "Traceback" not in out
    [damaged] = (warehouse / "damaged").glob("gonghui-*.duckdb")
    assert f"WARNING: the working database was damaged and moved to {damaged}" in proc.stdout
    assert "PUBLISHED" in proc.stdout
    # every model rebuilt: the incremental models did not exist in the new database, so dbt
    # built them whole (the run log has dbt's own account)
    [log] = (warehouse / "logs").glob("*.log")
    assert "int_members_deduplicated" in log.read_text(encoding="utf-8", errors="replace")
    decisions = list((warehouse / "published" / "decisions").glob("*.json"))
    assert len(decisions) == 1
    with duckdb.connect(str(db), read_only=True) as con:
        files = con.execute("select count(*) from raw.source_files").fetchone()[0]
        streets = con.execute(
            "select count(distinct street_code) from raw.member_roster"
        ).fetchone()[0]
    assert files == 374 and streets == 11

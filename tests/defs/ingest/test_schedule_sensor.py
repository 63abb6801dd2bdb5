"""The nightly schedule and the landing sensor, evaluated with Dagster's test utilities."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import uuid
from zoneinfo import ZoneInfo

import dagster as dg
import duckdb
import pytest
from conftest import PII_KEY, make_credit_code, record_publication
from mappings import CONTRACT_MAPPING

from orchestration.defs.ingest.partitions import (
    CHANGED_STREETS_TAG,
    STREET_CODES,
    partition_range_tags,
)
from orchestration.defs.ingest.resources import WarehouseResource
from orchestration.defs.ingest.schedules import nightly_schedule
from orchestration.defs.ingest.sensors import landing_sensor
from orchestration.defs.jobs import GONGHUI_JOB_NAME
from orchestration.lib.ingest import ingest
from orchestration.lib.ingest.files import sha256_of
from orchestration.lib.mapping import load_mapping

CC = make_credit_code("91440300MA5F00001")
HEADER = ["案件编号", "受理日期", "企业名称", "统一社会信用代码", "涉及人数", "挽回经济损失（元）"]
START, END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"


def rows(*cases):
    return [HEADER, *[[c, "2021-03-05", "甲公司", CC, 3, "100"] for c in cases]]


@pytest.fixture
def instance():
    with dg.instance_for_test() as instance:
        yield instance


@pytest.fixture
def setup(landing, tmp_path, monkeypatch):
    monkeypatch.setenv("GONGHUI_PII_KEY", PII_KEY.decode())  # the key the tests ingest with
    mapping = tmp_path / "sources.yml"
    mapping.write_bytes(CONTRACT_MAPPING.read_bytes())
    warehouse = WarehouseResource(
        raw_dir=str(landing.root),
        warehouse_dir=str(tmp_path / "warehouse"),
        mapping_path=str(mapping),
    )
    landing.csv("buji", "纠纷.csv", rows("B1"))
    landing.csv("pinghu", "纠纷.csv", rows("P1"))
    landing.csv("bantian", "纠纷.csv", rows("T1"))
    return landing, warehouse, mapping


def ingest_once(setup, run_id: str = "run-1") -> None:
    """Ingest the landing root into the warehouse as a run would (the changed streets)."""
    landing, warehouse, mapping = setup
    settings = warehouse.settings()
    settings.warehouse_dir.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(settings.duckdb_path)) as con:
        ingest(landing.root, con, load_mapping(mapping), run_id, key=PII_KEY, skip_unchanged=True)


def tick(instance, warehouse, cursor=None) -> dg.SensorResult | dg.SkipReason:
    # (a context manager: the warehouse resource has a run lifecycle, the writer lock)
    with dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"warehouse": warehouse}
    ) as context:
        return landing_sensor(context)


def requested(result) -> list[dict[str, str]]:
    return [dict(r.tags) for r in (result.run_requests or [])]


def add_run(instance, status: dg.DagsterRunStatus) -> str:
    run_id = str(uuid.uuid4())
    instance.add_run(dg.DagsterRun(job_name=GONGHUI_JOB_NAME, run_id=run_id, status=status))
    return run_id


# ---------------------------------------------------------------------------------- schedule


def schedule_tick(instance, warehouse, when=None):
    when = when or dt.datetime(2022, 1, 7, 2, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    with dg.build_schedule_context(
        instance=instance, scheduled_execution_time=when, resources={"warehouse": warehouse}
    ) as context:
        return nightly_schedule(context)


def test_the_nightly_schedule_runs_every_street_at_two_in_shanghai(instance, setup):
    _landing, warehouse, _mapping = setup
    assert nightly_schedule.cron_schedule == "0 2 * * *"
    assert nightly_schedule.execution_timezone == "Asia/Shanghai"
    assert nightly_schedule.job_name == GONGHUI_JOB_NAME
    assert nightly_schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    when = dt.datetime(2022, 1, 6, 2, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    request = schedule_tick(instance, warehouse, when)  # nothing ingested yet: every street
    assert isinstance(request, dg.RunRequest)
    assert (request.tags[START], request.tags[END]) == (STREET_CODES[0], STREET_CODES[-1])
    assert request.partition_key_range == dg.PartitionKeyRange(STREET_CODES[0], STREET_CODES[-1])
    assert request.tags["gonghui/trigger"] == "nightly"
    assert request.run_key == when.isoformat()


def test_the_schedule_skips_when_nothing_changed_since_the_publication(instance, setup):
    landing, warehouse, _mapping = setup
    settings = warehouse.settings()
    ingest_once(setup)
    # ingested but never published (e.g. the last run was blocked): rebuild and check again
    assert isinstance(schedule_tick(instance, warehouse), dg.RunRequest)

    record_publication(warehouse.settings())
    skip = schedule_tick(instance, warehouse)
    assert isinstance(skip, dg.SkipReason)
    assert "nothing changed since the publication of run run-1" in skip.skip_message

    # one street's file changes: a run over that street's partition only
    landing.csv("bantian", "纠纷.csv", rows("T1", "T2"))
    request = schedule_tick(instance, warehouse)
    assert (request.tags[START], request.tags[END]) == ("bantian", "bantian")
    assert request.tags[CHANGED_STREETS_TAG] == "bantian"

    # the same files, but the quality gate's configuration changed: rebuild every street
    landing.csv("bantian", "纠纷.csv", rows("T1"))
    assert isinstance(schedule_tick(instance, warehouse), dg.SkipReason)
    gate = settings.warehouse_dir / "expectations"
    shutil.copytree(settings.expectations_dir, gate)
    (gate / "gate.yml").write_text((gate / "gate.yml").read_text() + "\n# edited\n")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GONGHUI_EXPECTATIONS_DIR", str(gate))
        request = schedule_tick(instance, warehouse)
    assert isinstance(request, dg.RunRequest)
    assert request.tags[CHANGED_STREETS_TAG] == ""
    assert (request.tags[START], request.tags[END]) == (STREET_CODES[0], STREET_CODES[-1])


def test_the_schedule_waits_while_a_run_is_in_progress(instance, setup):
    _landing, warehouse, _mapping = setup
    run_id = add_run(instance, dg.DagsterRunStatus.STARTED)
    skip = schedule_tick(instance, warehouse)
    assert isinstance(skip, dg.SkipReason) and run_id in skip.skip_message


def test_partition_range_tags_cover_the_given_streets_in_streets_csv_order():
    assert partition_range_tags(["pingdi", "buji"]) == {START: "buji", END: "pingdi"}
    assert partition_range_tags(["buji"]) == {START: "buji", END: "buji"}
    with pytest.raises(ValueError, match="not street codes"):
        partition_range_tags(["atlantis"])


# ---------------------------------------------------------------------------------- sensor


def test_first_tick_without_a_warehouse_requests_every_street_with_files(instance, setup):
    _landing, warehouse, _mapping = setup
    result = tick(instance, warehouse)
    [tags] = requested(result)
    assert tags[CHANGED_STREETS_TAG] == "pinghu,bantian,buji"  # streets.csv order
    assert (tags[START], tags[END]) == ("pinghu", "buji")
    assert tags["gonghui/trigger"] == "landing_sensor"
    assert result.run_requests[0].run_key
    # the same changes are requested once, however many ticks see them before the run
    again = tick(instance, warehouse, result.cursor)
    assert requested(again) == []
    assert "already requested for these changes" in again.skip_reason.skip_message


def test_the_cursor_caches_one_hash_per_file_by_size_and_mtime(instance, setup):
    landing, warehouse, _mapping = setup
    cursor = json.loads(tick(instance, warehouse).cursor)
    assert set(cursor["files"]) == {f"2021/{s}/纠纷.csv" for s in ("buji", "pinghu", "bantian")}
    path = landing.root / "2021" / "buji" / "纠纷.csv"
    size, mtime, sha = cursor["files"]["2021/buji/纠纷.csv"]
    assert (size, mtime) == (path.stat().st_size, path.stat().st_mtime_ns)
    assert sha == sha256_of(path)


def test_a_tick_hashes_only_the_files_that_were_touched(instance, setup, monkeypatch):
    import orchestration.defs.ingest.sensors as sensors

    landing, warehouse, _mapping = setup
    ingest_once(setup)
    cursor = tick(instance, warehouse).cursor
    hashed = []
    real = sensors.sha256_of
    monkeypatch.setattr(sensors, "sha256_of", lambda path: hashed.append(path) or real(path))
    assert requested(tick(instance, warehouse, cursor)) == []
    assert hashed == []  # nothing touched: nothing read
    landing.csv("buji", "纠纷.csv", rows("B1", "B9"))
    [tags] = requested(tick(instance, warehouse, cursor))
    assert tags[CHANGED_STREETS_TAG] == "buji"
    assert {p.parent.name for p in hashed} == {"buji"}


def test_added_changed_and_removed_files_request_their_streets(instance, setup):
    landing, warehouse, _mapping = setup
    ingest_once(setup)
    cursor = tick(instance, warehouse).cursor

    unchanged = tick(instance, warehouse, cursor)
    assert (
        requested(unchanged) == []
        and "no landing file changed" in unchanged.skip_reason.skip_message
    )
    cursor = unchanged.cursor

    landing.csv("pingdi", "纠纷.csv", rows("D1"))  # added (a street without files so far)
    added = tick(instance, warehouse, cursor)
    [tags] = requested(added)
    assert tags[CHANGED_STREETS_TAG] == "pingdi"
    assert (tags[START], tags[END]) == ("pingdi", "pingdi")
    ingest_once(setup, "run-2")  # the requested run

    landing.csv("buji", "纠纷.csv", rows("B1", "B2"))  # changed content
    changed = tick(instance, warehouse, added.cursor)
    [tags] = requested(changed)
    assert (tags[CHANGED_STREETS_TAG], tags[START], tags[END]) == ("buji", "buji", "buji")
    ingest_once(setup, "run-3")

    (landing.root / "2021" / "pinghu" / "纠纷.csv").unlink()  # removed
    landing.csv("bantian", "纠纷_补报.csv", rows("T2"))  # and another street's file added
    removed = tick(instance, warehouse, changed.cursor)
    [tags] = requested(removed)
    assert tags[CHANGED_STREETS_TAG] == "pinghu,bantian"
    assert (tags[START], tags[END]) == ("pinghu", "bantian")
    assert "2021/pinghu/纠纷.csv" not in json.loads(removed.cursor)["files"]

    # the same tick evaluated again (a retried tick) gets the same run key: one run
    again = tick(instance, warehouse, changed.cursor)
    assert again.run_requests[0].run_key == removed.run_requests[0].run_key
    ingest_once(setup, "run-4")
    # a street changing back to an earlier state is a new run
    landing.csv("buji", "纠纷.csv", rows("B1"))
    back = tick(instance, warehouse, removed.cursor)
    ingest_once(setup, "run-5")
    landing.csv("buji", "纠纷.csv", rows("B1", "B2"))
    forth = tick(instance, warehouse, back.cursor)
    keys = [r.run_requests[0].run_key for r in (changed, back, forth)]
    assert len(set(keys)) == 3


def test_a_failed_run_is_not_requested_again_until_the_files_change(instance, setup):
    landing, warehouse, _mapping = setup
    ingest_once(setup)
    landing.csv("buji", "纠纷.csv", rows("B1", "B2"))
    first = tick(instance, warehouse)
    assert requested(first)
    # the requested run failed: the warehouse still has the old state
    assert requested(tick(instance, warehouse, first.cursor)) == []
    landing.csv("pinghu", "纠纷.csv", rows("P1", "P2"))
    [tags] = requested(tick(instance, warehouse, first.cursor))
    assert tags[CHANGED_STREETS_TAG] == "pinghu,buji"  # buji's change is still pending


def test_a_touched_but_identical_file_requests_nothing(instance, setup, monkeypatch):
    import orchestration.defs.ingest.sensors as sensors

    landing, warehouse, _mapping = setup
    ingest_once(setup)
    cursor = tick(instance, warehouse).cursor
    path = landing.root / "2021" / "buji" / "纠纷.csv"
    os.utime(path, (path.stat().st_atime + 60, path.stat().st_mtime + 60))
    hashed = []
    real = sensors.sha256_of
    monkeypatch.setattr(sensors, "sha256_of", lambda path: hashed.append(path) or real(path))
    result = tick(instance, warehouse, cursor)
    assert requested(result) == []
    assert hashed == [path]  # re-hashed once: its mtime changed
    before, after = (json.loads(c)["files"]["2021/buji/纠纷.csv"] for c in (cursor, result.cursor))
    assert after[1] != before[1] and after[2] == before[2]


def test_an_edited_mapping_requests_every_street_with_files(instance, setup):
    _landing, warehouse, mapping = setup
    ingest_once(setup)
    cursor = tick(instance, warehouse).cursor
    assert requested(tick(instance, warehouse, cursor)) == []
    mapping.write_text(mapping.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    [tags] = requested(tick(instance, warehouse, cursor))
    assert tags[CHANGED_STREETS_TAG] == "pinghu,bantian,buji"


def test_the_sensor_decides_from_what_the_warehouse_last_ingested(instance, setup):
    landing, warehouse, _mapping = setup
    ingest_once(setup)
    assert requested(tick(instance, warehouse)) == []
    landing.csv("pinghu", "纠纷.csv", rows("P1", "P2"))
    [tags] = requested(tick(instance, warehouse))
    assert tags[CHANGED_STREETS_TAG] == "pinghu"


def test_the_sensor_waits_while_a_run_is_in_progress_and_keeps_its_cursor(instance, setup):
    landing, warehouse, _mapping = setup
    ingest_once(setup)
    cursor = tick(instance, warehouse).cursor
    landing.csv("buji", "纠纷.csv", rows("B9"))
    run_id = add_run(instance, dg.DagsterRunStatus.STARTED)
    waiting = tick(instance, warehouse, cursor)
    assert isinstance(waiting, dg.SkipReason) and run_id in waiting.skip_message
    instance.report_run_failed(instance.get_run_by_id(run_id))
    [tags] = requested(tick(instance, warehouse, cursor))
    assert tags[CHANGED_STREETS_TAG] == "buji"


def test_a_missing_landing_root_or_a_broken_mapping_is_a_skip(instance, setup, tmp_path):
    _landing, warehouse, mapping = setup
    missing = WarehouseResource(raw_dir=str(tmp_path / "nowhere"), warehouse_dir=str(tmp_path))
    assert "does not exist" in tick(instance, missing).skip_message
    mapping.write_text("kinds: [", encoding="utf-8")
    assert "mapping is invalid" in tick(instance, warehouse).skip_message


def test_schedule_and_sensors_are_in_the_definitions(instance):
    # (the instance: Dagster resolves definitions against the current instance's state storage)
    from orchestration.definitions import defs

    assert defs.resolve_schedule_def("nightly_gonghui").job_name == GONGHUI_JOB_NAME
    sensor = defs.resolve_sensor_def("landing_files_sensor")
    assert sensor.job_name == GONGHUI_JOB_NAME
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    for name in ("gonghui_failure_alert", "gonghui_blocked_alert"):
        assert defs.resolve_sensor_def(name)
    job = defs.resolve_job_def(GONGHUI_JOB_NAME)
    assert job.partitions_def.get_partition_keys() == STREET_CODES

"""One end-to-end sequence through ``gonghui_job`` (ingest → dbt build → publish) on a tiny
landing root, showing per-street incremental runs and config-only onboarding.

1. a full run (every street partition in one run) with a mapping copy that onboards 坪地's HR
   export: its rows reach ``marts.fct_*`` with the right values;
2. one street's file changes → the next full-range run re-ingests only that street's partition
   and the mart changes accordingly;
3. an unchanged rerun ingests nothing and, the inputs fingerprint being that of the last
   publication, skips dbt, the checks and publication.

Each run that rebuilds costs ~40 s (mostly dbt), so the module runs the job three times (the
third stops after ingestion) and every test reads the recorded outcome.

The job is ``gonghui_job`` as defined (every asset, every dbt test as a check) minus the
Great Expectations gate checks: three streets' worth of fixtures cannot pass the district's
completeness rules, and the gate has tests of its own.
"""

from __future__ import annotations

from decimal import Decimal

import dagster as dg
import duckdb
import pytest
from conftest import Landing, fetch, make_credit_code
from onboarding_example import HR_CC1, HR_CC2, hr_export, onboarded_mapping

from orchestration.defs.ingest.partitions import STREET_CODES, partition_range_tags
from orchestration.lib.fingerprint import UP_TO_DATE_TAG

CC = make_credit_code("91440300MA5F00001")
HEADER = ["案件编号", "受理日期", "企业名称", "统一社会信用代码", "涉及人数", "纠纷类型",
          "处理结果", "挽回经济损失（元）"]  # fmt: skip
ENTERPRISES = ["统一社会信用代码", "企业名称", "职工人数", "是否建会"]


def case(no, workers=3, amount="1000"):
    return [no, "2021-03-05", "甲公司", CC, workers, "欠薪", "调解成功", amount]


def scope(result: dg.ExecuteInProcessResult) -> tuple[list[str], list[str]]:
    for event in result.get_asset_materialization_events():
        if event.asset_key == dg.AssetKey(["landing", "source_files"]):
            meta = event.materialization.metadata
            return list(meta["streets_ingested"].value), list(meta["streets_unchanged"].value)
    raise AssertionError("landing/source_files was not materialized")


def job_without_gate() -> dg.JobDefinition:
    """``gonghui_job`` over the real assets and resources, without the gate's checks (the
    Definitions below do not hold them, so no asset selection can bring them back)."""
    from orchestration.definitions import defs
    from orchestration.defs.jobs import gonghui_job

    job = dg.define_asset_job(
        gonghui_job.name, selection=dg.AssetSelection.all(), executor_def=dg.in_process_executor
    )
    return dg.Definitions(
        assets=list(defs.assets or []), jobs=[job], resources=defs.resources
    ).resolve_job_def(gonghui_job.name)


pytestmark = pytest.mark.xdist_group("pipeline")


@pytest.fixture(scope="module")
def sequence(tmp_path_factory):
    base = tmp_path_factory.mktemp("incremental")
    landing = Landing(base / "raw")
    landing.csv("buji", "纠纷.csv", [HEADER, case("B1"), case("B2")])
    landing.csv("buji", "企业.csv", [ENTERPRISES, [CC, "甲公司", 120, "是"]])
    landing.csv("pinghu", "纠纷.csv", [HEADER, case("P1", workers=40)])
    hr_export(landing)
    with pytest.MonkeyPatch.context() as mp, dg.instance_for_test() as instance:
        mp.setenv("GONGHUI_RAW_DIR", str(landing.root))
        mp.setenv("GONGHUI_WAREHOUSE_DIR", str(base / "warehouse"))
        mp.setenv("GONGHUI_MAPPING", str(onboarded_mapping(base)))
        mp.setenv("GONGHUI_PII_KEY", "test-key")
        mp.setenv("GONGHUI_DUCKDB_PATH", str(base / "warehouse" / "gonghui.duckdb"))
        job = job_without_gate()
        db = base / "warehouse" / "gonghui.duckdb"

        def snapshot():
            with duckdb.connect(str(db), read_only=True) as con:
                return {
                    "runs": dict(
                        con.execute(
                            "select street_code, string_agg(distinct _run_id, ',') "
                            "from raw.source_files group by 1"
                        ).fetchall()
                    ),
                    "cases": fetch(con, "select * from marts.fct_dispute_cases order by 2, 3"),
                    "enterprises": fetch(
                        con, "select * from marts.fct_enterprise_unions order by 2, 3"
                    ),
                    "indicators": {
                        (r[0], r[1]): r[2]
                        for r in con.execute(
                            "select street_code, indicator_code, value "
                            "from marts.annual_indicators where year = 2021"
                        ).fetchall()
                    },
                    "quarantine": fetch(con, "select * from raw.quarantine order by _source_row"),
                }

        tags = partition_range_tags()
        first = job.execute_in_process(instance=instance, tags=tags, raise_on_error=False)
        after_first = snapshot()
        landing.csv("buji", "纠纷.csv", [HEADER, case("B1"), case("B2"), case("B3", 31, "2500")])
        second = job.execute_in_process(instance=instance, tags=tags, raise_on_error=False)
        after_second = snapshot()
        published = base / "warehouse" / "published" / "mart.duckdb"
        published_before = (published.read_bytes(), published.stat().st_mtime_ns)
        unchanged = job.execute_in_process(instance=instance, tags=tags, raise_on_error=False)
        after_third = snapshot()
        yield {
            "runs": (first, second, unchanged),
            "snapshots": (after_first, after_second, after_third),
            "published": (published_before, (published.read_bytes(), published.stat().st_mtime_ns)),
            "unchanged_tags": instance.get_run_by_id(unchanged.run_id).tags,
            "dbt_logs": [
                [e.user_message for e in instance.all_logs(r.run_id) if "dbt build" in e.message]
                for r in (first, second)
            ],
        }


def test_the_runs_succeed_with_partitioned_ingest_and_unpartitioned_dbt(sequence):
    first, second, unchanged = sequence["runs"]
    for result in (first, second, unchanged):
        assert result.success, [e.message for e in result.get_step_failure_events()]
    # one run covers every street partition; dbt and publication are unpartitioned
    partitions = {
        e.partition
        for e in first.get_asset_materialization_events()
        if e.asset_key.path[0] == "landing"
    }
    assert partitions == set(STREET_CODES)
    materialized = {e.asset_key for e in first.get_asset_materialization_events()}
    assert dg.AssetKey(["marts", "annual_indicators"]) in materialized
    assert dg.AssetKey("published_mart") in materialized
    assert first.dagster_run.tags["dagster/asset_partition_range_start"] == STREET_CODES[0]


def test_onboarded_template_rows_reach_the_conformed_tables(sequence):
    after_first = sequence["snapshots"][0]
    pingdi = [
        (r["case_no"], r["accepted_on"].isoformat(), r["enterprise_name"], r["credit_code"],
         r["workers_involved"], r["dispute_type"], r["outcome"], r["recovered_amount"],
         r["is_mass_dispute"], r["_source_sheet"], r["_source_row"])
        for r in after_first["cases"]
        if r["street_code"] == "pingdi"
    ]  # fmt: skip
    assert pingdi == [
        ("PD-2021-001", "2021-02-01", "Acme Precision Ltd", HR_CC1, 35, "欠薪", "调解成功",
         Decimal("12345.00"), True, "Cases", 6),
        ("PD-2021-002", "2021-03-15", "Beta Logistics Ltd", HR_CC2, 2, "工伤", "转仲裁",
         Decimal("5000.00"), False, "Cases", 7),
    ]  # fmt: skip
    companies = [
        (r["credit_code"], r["employee_count"], r["has_union"], r["has_worker_council"])
        for r in after_first["enterprises"]
        if r["street_code"] == "pingdi"
    ]
    assert companies == [(HR_CC1, 420, True, True), (HR_CC2, 60, False, False)]
    [bad] = [q for q in after_first["quarantine"] if q["street_code"] == "pingdi"]
    assert (bad["_source_sheet"], bad["_source_row"], bad["reason_code"]) == (
        "Cases",
        8,
        "unknown_category",
    )
    indicators = after_first["indicators"]
    assert indicators[("pingdi", "disputes_recovered_yuan")] == Decimal("17345.00")
    assert indicators[("pingdi", "mass_disputes_30plus")] == 1


def test_a_changed_file_reingests_only_its_street_and_changes_the_mart(sequence):
    first, second, _ = sequence["runs"]
    before, after, _ = sequence["snapshots"]
    assert scope(first)[0] == ["pinghu", "buji", "pingdi"]
    assert scope(second)[0] == ["buji"]
    assert before["runs"] == {s: first.run_id for s in ("buji", "pinghu", "pingdi")}
    assert after["runs"] == {"buji": second.run_id, "pinghu": first.run_id, "pingdi": first.run_id}
    buji = lambda snap: sorted(r["case_no"] for r in snap["cases"] if r["street_code"] == "buji")  # noqa: E731
    assert buji(before) == ["B1", "B2"] and buji(after) == ["B1", "B2", "B3"]
    # dbt got the re-ingested street as var streets: the incremental models recompute buji only
    first_logs, second_logs = sequence["dbt_logs"]
    assert "dbt build --full-refresh: no publication recorded" in first_logs
    assert "dbt build: incremental models recompute streets: buji" in second_logs
    [command] = [m for m in second_logs if m.startswith("Running dbt command")]
    assert ' build --vars {"streets": ["buji"]} ' in command
    key = ("buji", "disputes_mediated")
    assert (before["indicators"][key], after["indicators"][key]) == (2, 3)
    key = ("district", "disputes_recovered_yuan")
    assert after["indicators"][key] - before["indicators"][key] == Decimal("2500.00")
    # the other streets' figures are untouched
    for k, v in before["indicators"].items():
        if k[0] in ("pinghu", "pingdi"):
            assert after["indicators"][k] == v, k


def test_an_unchanged_rerun_ingests_nothing_and_rebuilds_nothing(sequence):
    second, unchanged = sequence["runs"][1:]
    _, after_second, after_third = sequence["snapshots"]
    assert unchanged.success
    # nothing changed since the second run's publication: no landing table materialized, so
    # dbt, the checks and publication are skipped and the published mart is left as it was
    assert not unchanged.get_asset_materialization_events()
    assert not unchanged.get_asset_check_evaluations()
    skipped = {
        e.step_key for e in unchanged.all_events if e.event_type == dg.DagsterEventType.STEP_SKIPPED
    }
    assert {"warehouse_models", "published_mart"} <= skipped
    assert sequence["unchanged_tags"][UP_TO_DATE_TAG] == second.run_id
    before, after = sequence["published"]
    assert before == after
    assert after_third == after_second

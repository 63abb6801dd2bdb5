"""What ``gonghui run`` prints at the end: grouped review findings, the blocked wording."""

from __future__ import annotations

from pathlib import Path

from orchestration.lib.summary import CheckOutcome, RunSummary

REVIEW_RULE = "rows quarantined (listed for review; not blocking)"
RATE_RULE = "quarantine rate per year, street and kind <= max_quarantine_rate_pct"


def review(street: str, kind: str, rows: int) -> dict:
    return {
        "street": street,
        "kind": kind,
        "rule": REVIEW_RULE,
        "observed": f"rows_quarantined={rows}, year=2021",
        "severity": "warn",
        "column": "rows_quarantined",
        "value": rows,
    }


def blocking(street: str, kind: str, pct: float) -> dict:
    return {
        "street": street,
        "kind": kind,
        "rule": RATE_RULE,
        "observed": f"gated_quarantine_rate_pct={pct}, year=2021",
        "severity": "block",
        "column": "gated_quarantine_rate_pct",
        "value": pct,
    }


STREETS = ["bantian", "baolong", "buji", "henggang", "jihua", "longcheng"]
KINDS = ["care_services", "dream_program", "member_roster", "dispute_cases"]


def review_findings() -> list[dict]:
    return [
        review(s, k, 1 + i % 3) for i, (s, k) in enumerate(zip(STREETS * 4, KINDS * 6, strict=True))
    ][:20]


def summary(tmp_path: Path, checks: list[CheckOutcome], **kwargs) -> RunSummary:
    defaults = dict(
        run_id="run-1",
        success=True,
        published=True,
        elapsed=1.0,
        files_by_status={"loaded": 3},
        published_path=tmp_path / "published" / "mart.duckdb",
    )
    return RunSummary(**{**defaults, **kwargs}, checks=checks)


def quarantine_check(findings: list[dict], passed: bool) -> CheckOutcome:
    return CheckOutcome(
        asset="landing/quarantine",
        name="gate_quarantine_rate",
        passed=passed,
        severity="WARN" if passed else "ERROR",
        level="block",
        description="1 expectation(s) failed: pinghu · dispute_cases · " + RATE_RULE,
        findings=findings,
    )


def test_review_findings_are_one_line_per_rule(tmp_path):
    findings = review_findings()
    text = summary(tmp_path, [quarantine_check(findings, passed=True)]).render()
    lines = text.splitlines()
    assert not [line for line in lines if "bantian · care_services" in line]  # no per-street list
    grouped = [line for line in lines if REVIEW_RULE in line]
    assert len(grouped) == 1
    streets = len({f["street"] for f in findings})
    kinds = len({f["kind"] for f in findings})
    assert f"{len(findings)} street × kind" in grouped[0]
    assert f"{streets} streets, {kinds} kinds" in grouped[0]
    assert f"rows_quarantined {sum(f['value'] for f in findings)} in total" in grouped[0]
    assert "decision record" in text  # where the per-street detail is


def test_blocked_run_names_only_the_blocking_findings_first_uncut(tmp_path):
    findings = [blocking("pinghu", "dispute_cases", 13.64), *review_findings()]
    check = quarantine_check(findings, passed=False)
    gate_error = (
        "landing_quality_gate: dagster._core.errors.DagsterAssetCheckFailedError: 1 blocking "
        "asset check failed with ERROR severity: landing/quarantine: gate_quarantine_rate"
    )
    text = summary(
        tmp_path, [check], published=False, success=False, failures=[gate_error]
    ).render()
    lines = text.splitlines()
    blocked_at = next(i for i, line in enumerate(lines) if "BLOCKED" in line)
    review_at = next(i for i, line in enumerate(lines) if REVIEW_RULE in line)
    assert blocked_at < review_at  # the reason first, the review list after
    failed = [line for line in lines if "FAILED" in line]
    assert len(failed) == 1
    assert REVIEW_RULE not in failed[0]  # warn findings are not mixed into the blocking one
    assert text.count("gated_quarantine_rate_pct=13.64") == 1  # named once, not repeated
    detail = next(line for line in lines if "gated_quarantine_rate_pct=13.64" in line)
    assert "pinghu · dispute_cases" in detail and RATE_RULE in detail and "…" not in detail
    assert not [line for line in lines if line.rstrip().endswith(":") and "ERROR" in line]
    assert "DagsterAssetCheckFailedError" not in text  # the check itself says it


def test_first_blocked_run_does_not_mention_a_previous_mart(tmp_path):
    check = quarantine_check([blocking("pinghu", "dispute_cases", 13.64)], passed=False)
    text = summary(tmp_path, [check], published=False, success=False).render()
    assert "previous mart" not in text
    assert "no mart has been published yet" in text


def test_blocked_run_keeps_the_previous_mart(tmp_path):
    mart = tmp_path / "published" / "mart.duckdb"
    mart.parent.mkdir(parents=True)
    mart.write_bytes(b"x")
    check = quarantine_check([blocking("pinghu", "dispute_cases", 13.64)], passed=False)
    text = summary(tmp_path, [check], published=False, success=False).render()
    assert f"the previous mart ({mart}) is unchanged" in text


def test_step_failure_message_is_whole(tmp_path):
    text = summary(
        tmp_path,
        [],
        published=False,
        success=False,
        failures=["warehouse_models: dbt build failed: Database Error in model x: boom"],
    ).render()
    assert "warehouse_models: dbt build failed: Database Error in model x: boom" in text


def test_failed_dbt_test_shows_its_description(tmp_path):
    check = CheckOutcome(
        asset="marts/fct_members",
        name="not_null_fct_members_member_key",
        passed=False,
        severity="ERROR",
        level="block",
        description="dbt test not_null on fct_members.member_key",
    )
    text = summary(tmp_path, [check], published=False, success=False).render()
    line = next(line for line in text.splitlines() if "FAILED" in line)
    assert "not_null_fct_members_member_key" in line
    assert "dbt test not_null on fct_members.member_key" in line


def test_warnings_are_listed_once(tmp_path):
    s = summary(
        tmp_path, [], warnings=["GONGHUI_PII_KEY is not set: …", "GONGHUI_PII_KEY is not set: …"]
    )
    assert s.render().count("GONGHUI_PII_KEY is not set") == 1


def test_error_text_does_not_end_on_a_colon():
    from orchestration.lib.summary import error_text

    message = (
        "dagster._core.errors.DagsterAssetCheckFailedError: 1 blocking asset check failed "
        "with ERROR severity:\nlanding/quarantine: gate_quarantine_rate\n\nStack Trace:\n  File x"
    )
    assert error_text(message) == (
        "dagster._core.errors.DagsterAssetCheckFailedError: 1 blocking asset check failed "
        "with ERROR severity: landing/quarantine: gate_quarantine_rate"
    )


def test_failed_suite_description_names_the_failing_findings_only():
    from orchestration.lib.gate import Finding, SuiteOutcome

    outcome = SuiteOutcome(
        name="gate_quarantine_rate",
        severity="block",
        passed=False,
        rows_validated=90,
        failed_expectations=[{"critical": True}, {"critical": False}],
        findings=[
            Finding("bantian", "care_services", REVIEW_RULE, "rows_quarantined=1", "warn"),
            Finding(
                "pinghu", "dispute_cases", RATE_RULE, "gated_quarantine_rate_pct=13.64", "block"
            ),
        ],
    )
    text = outcome.summary()
    assert "pinghu · dispute_cases" in text
    assert REVIEW_RULE not in text

"""The summary ``gonghui run`` prints: files, rows, quarantine, checks, publication."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from orchestration.lib.settings import Settings


@dataclass
class CheckOutcome:
    asset: str
    name: str
    passed: bool
    severity: str
    description: str = ""
    #: block (a failure stops publication) or warn — as configured, whatever the result
    level: str = ""
    #: failing rows / listed findings (street, kind, rule, observed, severity) of gate checks
    findings: list[dict] = field(default_factory=list)
    #: years its blocking findings name (held back by publication; lib/years.py)
    blocked_years: list[int] = field(default_factory=list)
    #: the dbt tests a model check aggregates (its ``tests`` metadata), 0 for other checks
    tests: int = 0

    @property
    def blocks(self) -> bool:
        """A failed check that stops publication (configured ``block``, or a blocking check)."""
        return not self.passed and (self.level or "block") == "block"

    def as_dict(self) -> dict:
        return {
            "asset": self.asset,
            "name": self.name,
            "passed": self.passed,
            "severity": self.level or self.severity,
            "description": self.description,
            "findings": self.findings,
            "blocked_years": self.blocked_years,
        }


def check_outcomes(evaluations) -> list[CheckOutcome]:
    """``AssetCheckEvaluation``s (run result or event log) → :class:`CheckOutcome`s."""
    outcomes = []
    for evaluation in evaluations:
        metadata = evaluation.metadata or {}
        findings = metadata.get("findings")
        level = metadata.get("severity")
        years = metadata.get("blocked_years")
        tests = metadata.get("tests")
        outcomes.append(
            CheckOutcome(
                asset=evaluation.asset_key.to_user_string(),
                name=evaluation.check_name,
                passed=evaluation.passed,
                severity=evaluation.severity.value,
                description=str(evaluation.description or ""),
                level=str(level.value)
                if level is not None
                else ("block" if evaluation.blocking else "warn"),
                findings=list(findings.value) if findings is not None else [],
                blocked_years=list(years.value) if years is not None else [],
                tests=int(tests.value) if tests is not None else 0,
            )
        )
    return outcomes


def failure_message(event) -> str:
    """What a failed step's error says, down to its cause: Dagster wraps an exception raised
    in an asset (``DagsterExecutionStepExecutionError: Error occurred while executing …``), so
    its first line alone never names the OS error ("No space left on device") — the first line
    of every cause is kept instead, without repeats and module paths."""
    error = event.event_specific_data.error if event.event_specific_data else None
    if error is None:
        return "step failed"
    chain = []
    while error is not None:
        chain.append(error)
        error = error.cause
    parts: list[str] = []
    for info in chain[1:] or chain:
        first = (info.message or "").strip().splitlines()
        line = re.sub(r"^(?:[A-Za-z_]\w*\.)+(\w+): ", r"\1: ", first[0]) if first else ""
        text = line.partition(": ")[2] or line
        if line and not any(text in p for p in parts):
            parts.append(line)
    return " ← ".join(parts) or chain[0].cls_name or "step failed"


#: blocking findings shown per check; all of them are in the decision record
MAX_BLOCKING_SHOWN = 20
#: the step error Dagster raises when a blocking check failed (the check itself is listed)
GATE_FAILURE_ERROR = "DagsterAssetCheckFailedError"


def error_text(message: str) -> str:
    """A step error's message as one line: its first paragraph (without the stack trace), so
    "… failed with ERROR severity:" keeps the check names of the next line."""
    paragraph = message.strip().split("\n\n", 1)[0]
    return " ".join(line.strip() for line in paragraph.splitlines() if line.strip())


def _is_gate_failure(failure: str) -> bool:
    return GATE_FAILURE_ERROR in failure


def _finding_text(f: dict) -> str:
    where = " · ".join(x for x in (f.get("street"), f.get("kind")) if x) or "table"
    return f"{where} · {f.get('rule')} · observed {f.get('observed')}"


def _group_text(findings: list[dict]) -> str:
    """``26 street × kind (11 streets, 8 kinds); rows_quarantined 30 in total``."""
    streets = {f.get("street") for f in findings if f.get("street")}
    kinds = {f.get("kind") for f in findings if f.get("kind")}
    text = f"{len(findings)} street × kind ({len(streets)} streets, {len(kinds)} kinds)"
    columns = {f.get("column") for f in findings}
    values = [f.get("value") for f in findings]
    if (
        len(columns) == 1
        and None not in columns
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    ):
        total = sum(values)
        text += f"; {columns.pop()} {total:,} in total"
    return text


@dataclass
class RunSummary:
    run_id: str
    success: bool
    published: bool
    elapsed: float
    files_by_status: dict[str, int] = field(default_factory=dict)
    rows_loaded: int = 0
    rows_quarantined: int = 0
    quarantine_by_reason: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    checks: list[CheckOutcome] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    published_path: Path | None = None
    data_docs: Path | None = None
    decision_path: Path | None = None
    #: run id of the publication this run found the inputs unchanged from (nothing rebuilt)
    up_to_date_with: str | None = None
    #: why the mart this run replaced did not match its manifest (then it was republished)
    republished_because: str | None = None
    #: warnings raised while the run ran (e.g. the development PII key), each shown once
    warnings: list[str] = field(default_factory=list)
    #: the run's log file (Dagster and dbt output), when the run was quiet
    log_path: Path | None = None
    #: where a damaged working database found by this run was moved (it was rebuilt)
    recovered_from: str | None = None
    #: each year's decision (lib/years.py ``YearDecision.as_dict``), when the run published
    years: list[dict] = field(default_factory=list)

    @classmethod
    def collect(cls, result, settings: Settings, elapsed: float, instance=None) -> RunSummary:
        """Read the outcome from the Dagster run result (and its stored run in ``instance``)
        and the working database."""
        from orchestration.lib.constants import PUBLISHED_MART_KEY, REPUBLISHED_TAG
        from orchestration.lib.fingerprint import UP_TO_DATE_TAG

        events = result.get_asset_materialization_events()
        materialized = {e.asset_key for e in events}
        summary = cls(
            run_id=result.run_id,
            success=result.success,
            published=PUBLISHED_MART_KEY in materialized,
            elapsed=elapsed,
            published_path=settings.published_mart,
        )
        # the tag is added during the run: read the stored run, not the one launched
        run = instance.get_run_by_id(result.run_id) if instance is not None else None
        tags = (run or result.dagster_run).tags
        summary.up_to_date_with = tags.get(UP_TO_DATE_TAG) if result.success else None
        from orchestration.lib.writer import RECOVERED_TAG

        summary.recovered_from = tags.get(RECOVERED_TAG)
        summary.checks = check_outcomes(result.get_asset_check_evaluations())
        for event in events:
            if event.asset_key == PUBLISHED_MART_KEY:
                years = event.materialization.metadata.get("years")
                summary.years = list(years.value) if years is not None else []
        from orchestration.lib.gate import data_docs_index

        if data_docs_index(settings.warehouse_dir).is_file():
            summary.data_docs = data_docs_index(settings.warehouse_dir)
        summary.republished_because = tags.get(REPUBLISHED_TAG) if summary.published else None
        for event in result.get_step_failure_events():
            summary.failures.append(f"{event.step_key}: {failure_message(event)}")
        if settings.duckdb_path.exists():
            try:
                summary._read_warehouse(settings.duckdb_path)
            except duckdb.Error as exc:  # never a traceback instead of the summary
                summary.problems.append(f"working database unreadable: {exc}")
        return summary

    def _read_warehouse(self, path: Path) -> None:
        with duckdb.connect(str(path), read_only=True) as con:
            tables = {
                r[0]
                for r in con.execute(
                    "select table_name from duckdb_tables() where schema_name = 'raw'"
                ).fetchall()
            }
            if "source_files" not in tables:
                return
            self.files_by_status = dict(
                con.execute(
                    "select status, count(*) from raw.source_files group by 1 order by 2 desc"
                ).fetchall()
            )
            self.rows_loaded, self.rows_quarantined = con.execute(
                "select coalesce(sum(rows_loaded), 0), coalesce(sum(rows_quarantined), 0) "
                "from raw.source_files where status = 'loaded'"
            ).fetchone()
            self.quarantine_by_reason = dict(
                con.execute(
                    "select reason_code, count(*) from raw.quarantine "
                    "where _superseded_by is null group by 1 order by 2 desc, 1"
                ).fetchall()
            )
            self.problems = [
                f"{f}: {s} — {r}"
                for f, s, r in con.execute(
                    "select _source_file, status, reason from raw.source_files "
                    "where status in ('rejected', 'unrecognised', 'deferred') order by 1"
                ).fetchall()
            ]

    def record_decision(self) -> Path | None:
        """Write ``published/decisions/<run id>.json`` (every run: published or blocked)."""
        from orchestration.lib.publish import write_decision

        if self.published_path is None or self.up_to_date_with:
            return None  # nothing was decided: the publication it matched stands
        published_dir = self.published_path.parent
        self.decision_path = write_decision(
            published_dir,
            self.run_id,
            published=self.published,
            checks=[c.as_dict() for c in self.checks],
            step_failures=self.failures,
            manifest=published_dir / "manifest.json" if self.published else None,
            years=self.years,
        )
        return self.decision_path

    def render(self, dagster_home: Path | None = None) -> str:
        """The closing summary: what was read, what the gate found, what was decided.

        A blocked run names its blocking findings right after the checks line, whole and once;
        warn-level findings follow, one line per rule (their per-street detail is in the
        decision record)."""
        files = sum(self.files_by_status.values())
        lines = [f"gonghui run {self.run_id} — {self.elapsed:.1f} s"]
        if self.recovered_from:
            lines.append(
                f"  WARNING: the working database was damaged and moved to "
                f"{self.recovered_from}; rebuilt from the landing zone (every file and model)"
            )
        lines += [f"  warning: {w}" for w in dict.fromkeys(self.warnings)]
        lines += [
            f"  files read: {files} ("
            + ", ".join(f"{n} {s}" for s, n in self.files_by_status.items())
            + ")",
            f"  rows loaded: {self.rows_loaded:,}",
            f"  rows quarantined: {self.rows_quarantined:,}",
        ]
        lines += [f"    {reason}: {n:,}" for reason, n in self.quarantine_by_reason.items()]
        if self.problems:
            lines.append("  files not loaded:")
            lines += [f"    {p}" for p in self.problems]
        failed = [c for c in self.checks if not c.passed]
        blocking = [c for c in failed if c.blocks]
        model_checks = [c for c in self.checks if c.tests]
        tested = (
            f" ({sum(c.tests for c in model_checks)} dbt tests in {len(model_checks)} of them)"
            if model_checks
            else ""
        )
        lines.append(
            f"  checks: {len(self.checks)} run{tested}, {len(self.checks) - len(failed)} "
            f"passed, {len(failed)} failed" + (f" ({len(blocking)} blocking)" if blocking else "")
        )
        lines += self._outcome_lines(blocking)
        lines += self._review_lines([c for c in failed if not c.blocks])
        failures = [f for f in self.failures if not _is_gate_failure(f)]
        if failures:
            lines.append("  step failures:")
            lines += [f"    {f}" for f in failures]
        if self.data_docs:
            lines.append(f"  Data Docs: {self.data_docs}")
        if self.decision_path:
            lines.append(f"  decision: {self.decision_path}")
        if self.log_path:
            lines.append(f"  log: {self.log_path} (Dagster and dbt output of this run)")
        if dagster_home:
            lines.append(f"  Dagster instance: {dagster_home} (`make dev` to browse the run)")
        return "\n".join(lines)

    def _outcome_lines(self, blocking: list[CheckOutcome]) -> list[str]:
        if self.up_to_date_with:
            return [
                f"  UP TO DATE — nothing changed since the publication of run "
                f"{self.up_to_date_with}; dbt, the gate and publication skipped, "
                f"{self.published_path} stays in place (`gonghui run --full-refresh` rebuilds)"
            ]
        if self.published:
            return [
                *(
                    [f"  {self.republished_because}: republished"]
                    if self.republished_because
                    else []
                ),
                f"  PUBLISHED {self.published_path}",
                f"    manifest: {self.published_path.parent / 'manifest.json'}",
                *self._year_lines(),
            ]
        previous = (
            f"the previous mart ({self.published_path}) is unchanged"
            if self.published_path is not None and self.published_path.exists()
            else "no mart has been published yet"
        )
        lines = [f"  BLOCKED — not published; {previous}"]
        for c in blocking:
            shown = [f for f in c.findings if f.get("severity") != "warn"]
            head = f"    FAILED [{c.level or c.severity}] {c.asset} · {c.name}"
            if not shown:
                lines.append(head + (f": {c.description}" if c.description else ""))
                continue
            lines.append(head + f" — {len(shown)} blocking finding(s):")
            lines += [f"      {_finding_text(f)}" for f in shown[:MAX_BLOCKING_SHOWN]]
            if len(shown) > MAX_BLOCKING_SHOWN:
                lines.append(
                    f"      … {len(shown) - MAX_BLOCKING_SHOWN} more in the decision record"
                )
        return lines

    def _year_lines(self) -> list[str]:
        """One line per year (published final/provisional, or blocked with its findings),
        when the run publishes more than one year or holds one back."""
        if not self.years or (
            len(self.years) == 1 and self.years[0].get("decision") == "published"
        ):
            return []
        lines = []
        for y in self.years:
            head = f"    {y['year']} ({y['state']}): "
            if y.get("decision") == "published":
                missing = sum(
                    1 for f in y.get("findings") or [] if f["check"] == "gate_completeness"
                )
                lines.append(
                    head
                    + f"published, {y.get('status')}"
                    + (f"; {missing} submission(s) still missing" if missing else "")
                )
                continue
            kept = (
                f"keeps its published {y.get('status')} rows (run {y.get('published_run_id')})"
                if y.get("status")
                else "not published (never published before)"
            )
            blocked = y.get("blocked_by") or []
            lines.append(head + f"BLOCKED — {kept}; {len(blocked)} blocking finding(s):")
            lines += [f"      {_finding_text(b)}" for b in blocked[:MAX_BLOCKING_SHOWN]]
            if len(blocked) > MAX_BLOCKING_SHOWN:
                lines.append(
                    f"      … {len(blocked) - MAX_BLOCKING_SHOWN} more in the decision record"
                )
        return lines

    def _review_lines(self, failed_warn: list[CheckOutcome]) -> list[str]:
        """Warn-level findings, one line per (check, rule); failed warn-level checks."""
        groups: dict[tuple[str, str], list[dict]] = {}
        for c in self.checks:
            for f in c.findings:
                if f.get("severity") == "warn":
                    groups.setdefault((c.name, str(f.get("rule") or "")), []).append(f)
        if not groups and not failed_warn:
            return []
        total = sum(len(fs) for fs in groups.values())
        counts = [f"{total} finding(s) of {len(groups)} rule(s)"] if groups else []
        counts += [f"{len(failed_warn)} warn-level check(s) failed"] if failed_warn else []
        lines = [
            f"  for review (warn, not blocking): {', '.join(counts)} — per street in the "
            "decision record"
        ]
        for (check, rule), findings in groups.items():
            lines.append(f"    {check} · {rule}: {_group_text(findings)}")
        lines += [
            f"    FAILED [warn] {c.asset} · {c.name}"
            + (f": {c.description}" if c.description else "")
            for c in failed_warn
        ]
        return lines

"""Years have a state: open until the deadline of calendar.yml, closed from it on, unless
closed or reopened by command (recorded with who/when/why)."""

from __future__ import annotations

import datetime as dt

import pytest

from orchestration.lib.calendar import (
    CalendarError,
    as_of,
    load_calendar,
    load_register,
    record_override,
    year_states,
)
from orchestration.lib.fingerprint import inputs_fingerprint
from orchestration.lib.gate import DEFAULT_EXPECTATIONS_DIR

CAL = load_calendar(DEFAULT_EXPECTATIONS_DIR)


def test_the_default_deadline_is_15_february_of_the_next_year():
    assert CAL.deadline(2022) == dt.date(2023, 2, 15)


@pytest.mark.parametrize(
    ("today", "state"),
    [
        ("2022-01-10", "open"),
        ("2023-02-14", "open"),
        ("2023-02-15", "closed"),
        ("2026-12-01", "closed"),
    ],
)
def test_a_year_is_open_until_its_deadline_and_closed_from_it_on(today, state):
    s = year_states([2022], calendar=CAL, today=dt.date.fromisoformat(today))[2022]
    assert s.state == state
    assert s.status == ("final" if state == "closed" else "provisional")
    assert s.source == "calendar"


def test_close_and_reopen_by_command_override_the_date_and_are_recorded(tmp_path):
    today = dt.date(2022, 8, 1)
    record_override(tmp_path, 2022, "closed", by="王科长", reason="all streets in")
    s = year_states([2021, 2022], calendar=CAL, today=today, register=load_register(tmp_path))
    assert s[2022].state == "closed" and s[2022].source == "command" and s[2022].by == "王科长"
    assert s[2021].state == "closed" and s[2021].source == "calendar"
    record_override(tmp_path, 2021, "open", by="王科长", reason="late correction")
    record_override(tmp_path, 2022, "open", by="李")
    register = load_register(tmp_path)
    s = year_states([2021, 2022], calendar=CAL, today=today, register=register)
    assert s[2021].state == "open" and s[2021].reason == "late correction"
    assert s[2022].state == "open" and s[2022].by == "李"
    assert [e["action"] for e in register["events"]] == ["close", "reopen", "reopen"]
    assert all(e["at"] for e in register["events"])


def test_a_per_year_deadline_in_the_calendar(tmp_path):
    (tmp_path / "calendar.yml").write_text(
        "deadline: {month: 3, day: 1}\nyears: {2022: {deadline: 2023-04-30}}\n", encoding="utf-8"
    )
    cal = load_calendar(tmp_path)
    assert cal.deadline(2021) == dt.date(2022, 3, 1)
    assert cal.deadline(2022) == dt.date(2023, 4, 30)
    (tmp_path / "calendar.yml").write_text("deadline: {month: 2, day: 30}\n", encoding="utf-8")
    with pytest.raises(CalendarError, match=r"calendar\.yml"):
        load_calendar(tmp_path)


def test_as_of_is_a_setting(monkeypatch):
    monkeypatch.setenv("GONGHUI_AS_OF", "2022-08-01")
    assert as_of() == dt.date(2022, 8, 1)
    monkeypatch.setenv("GONGHUI_AS_OF", "1 August")
    with pytest.raises(CalendarError, match="GONGHUI_AS_OF"):
        as_of()
    monkeypatch.delenv("GONGHUI_AS_OF")
    assert as_of() == dt.date.today()


def test_a_year_that_closes_changes_the_inputs_fingerprint(tmp_path):
    import duckdb

    con = duckdb.connect()
    con.execute("create schema raw")
    con.execute(
        "create table raw.source_files as select 'a' as _source_file, 'x' as _file_sha256, "
        "'loaded' as status, 'r' as _run_id, 'm' as _mapping_sha256"
    )
    (tmp_path / "m.yml").write_text("x", encoding="utf-8")
    common = dict(
        dbt_project_dir=tmp_path,
        expectations_dir=tmp_path,
        mapping_path=tmp_path / "m.yml",
        code="c",
    )
    opened = inputs_fingerprint(con, **common, year_states={2022: "open"})
    closed = inputs_fingerprint(con, **common, year_states={2022: "closed"})
    assert opened["fingerprint"] != closed["fingerprint"]
    assert (
        inputs_fingerprint(con, **common)["fingerprint"]
        == inputs_fingerprint(con, **common, year_states={})["fingerprint"]
    )

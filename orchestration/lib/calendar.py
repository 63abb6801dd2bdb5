"""The working year: which reporting years are open (submissions expected) and which closed.

A year is *open* until its deadline (``expectations/calendar.yml``: by default 15 February of
the next year) and *closed* from the deadline on. ``GONGHUI_AS_OF`` is the date the pipeline
takes as today (default: the real date), so tests and demos can stand anywhere in the calendar.
``gonghui year close 2022`` / ``gonghui year reopen 2022`` override the calendar for one year;
the overrides are kept in ``<warehouse>/published/years.json`` with who made them, when and
why (:func:`record_override`), and every publication records each year's state with its source.

Definition-free (no Dagster): used by the gate, publication, the CLI and the report.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

CALENDAR_FILE = "calendar.yml"
REGISTER_FILE = "years.json"
AS_OF_ENV = "GONGHUI_AS_OF"
OPEN, CLOSED = "open", "closed"
#: status of the published rows of a year
FINAL, PROVISIONAL = "final", "provisional"


class CalendarError(ValueError):
    """``calendar.yml`` or ``GONGHUI_AS_OF`` is invalid; the message says which and why."""


@dataclass(frozen=True)
class Calendar:
    deadline_month: int = 2
    deadline_day: int = 15
    #: year → deadline (exceptions of ``years:``)
    deadlines: tuple[tuple[int, dt.date], ...] = ()

    def deadline(self, year: int) -> dt.date:
        """The first day on which ``year`` is closed."""
        return dict(self.deadlines).get(year) or dt.date(
            year + 1, self.deadline_month, self.deadline_day
        )


@dataclass(frozen=True)
class YearState:
    year: int
    state: str  # open | closed
    deadline: dt.date
    as_of: dt.date
    #: why: "calendar" (the date) or "command" (gonghui year close/reopen)
    source: str = "calendar"
    by: str | None = None
    at: str | None = None
    reason: str | None = None

    @property
    def closed(self) -> bool:
        return self.state == CLOSED

    @property
    def status(self) -> str:
        """What the year's published rows are: ``final`` (closed) or ``provisional`` (open)."""
        return FINAL if self.closed else PROVISIONAL

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["deadline"] = self.deadline.isoformat()
        out["as_of"] = self.as_of.isoformat()
        out["status"] = self.status
        return out


def as_of() -> dt.date:
    """``GONGHUI_AS_OF`` (``YYYY-MM-DD``) or today's date."""
    value = (os.environ.get(AS_OF_ENV) or "").strip()
    if not value:
        return dt.date.today()
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise CalendarError(f"{AS_OF_ENV}={value!r} is not a date (YYYY-MM-DD)") from exc


def load_calendar(expectations_dir: Path) -> Calendar:
    """``<expectations_dir>/calendar.yml``; the default calendar when the file is absent."""
    path = Path(expectations_dir) / CALENDAR_FILE
    if not path.is_file():
        return Calendar()
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    deadline = doc.get("deadline") or {}
    try:
        month, day = int(deadline.get("month", 2)), int(deadline.get("day", 15))
        dt.date(2001, month, day)
        exceptions = []
        for year, entry in (doc.get("years") or {}).items():
            value = (entry or {}).get("deadline")
            if value is None:
                continue
            date = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
            exceptions.append((int(year), date))
    except (TypeError, ValueError) as exc:
        raise CalendarError(f"{path}: invalid deadline ({exc})") from exc
    return Calendar(month, day, tuple(sorted(exceptions)))


def register_path(published_dir: Path) -> Path:
    return Path(published_dir) / REGISTER_FILE


def load_register(published_dir: Path) -> dict[str, Any]:
    """``years.json``: ``{"overrides": {year: entry}, "events": [every close/reopen]}``."""
    try:
        doc = json.loads(register_path(published_dir).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {"overrides": {}, "events": []}
    except ValueError as exc:
        raise CalendarError(f"{register_path(published_dir)}: not valid JSON ({exc})") from exc
    doc.setdefault("overrides", {})
    doc.setdefault("events", [])
    return doc


def record_override(
    published_dir: Path, year: int, state: str, *, by: str | None = None, reason: str = ""
) -> dict[str, Any]:
    """Close (``state="closed"``) or reopen (``"open"``) ``year`` by command; returns the
    event. The register is rewritten atomically; the next run sees the changed state (it is
    part of the inputs fingerprint) and gates the year accordingly."""
    from orchestration.lib.publish import write_json

    if state not in (OPEN, CLOSED):
        raise CalendarError(f"state must be {OPEN} or {CLOSED}, not {state!r}")
    doc = load_register(published_dir)
    event = {
        "year": int(year),
        "state": state,
        "action": "close" if state == CLOSED else "reopen",
        "by": by or _user(),
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "reason": reason or None,
    }
    doc["overrides"][str(int(year))] = event
    doc["events"].append(event)
    write_json(register_path(published_dir), doc)
    return event


def _user() -> str:
    try:
        return os.environ.get("GONGHUI_USER") or getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def year_states(
    years: Iterable[int],
    *,
    calendar: Calendar,
    today: dt.date,
    register: dict[str, Any] | None = None,
) -> dict[int, YearState]:
    """The state of each of ``years`` on ``today``: the calendar's, unless overridden."""
    overrides = (register or {}).get("overrides") or {}
    states = {}
    for year in sorted({int(y) for y in years if y is not None}):
        deadline = calendar.deadline(year)
        entry = overrides.get(str(year))
        if entry:
            states[year] = YearState(
                year,
                entry["state"],
                deadline,
                today,
                source="command",
                by=entry.get("by"),
                at=entry.get("at"),
                reason=entry.get("reason"),
            )
        else:
            states[year] = YearState(year, CLOSED if today >= deadline else OPEN, deadline, today)
    return states


def current_year_states(settings: Any, years: Iterable[int]) -> dict[int, YearState]:
    """:func:`year_states` under ``settings`` (calendar of its expectations dir, register of
    its published dir, ``GONGHUI_AS_OF``)."""
    return year_states(
        years,
        calendar=load_calendar(settings.expectations_dir),
        today=as_of(),
        register=load_register(settings.published_dir),
    )


def working_years(con: Any) -> list[int]:
    """The reporting years present in ``raw.source_files`` of the working database ``con``."""
    return [
        r[0]
        for r in con.execute(
            "select distinct year from raw.source_files where year is not null order by 1"
        ).fetchall()
    ]

"""A small, independent reference reader of the demo landing zone (for tests and benchmarks).

It reads the files back *only* through the landing contract (kind from the header row,
synonyms, units, periods and corrections from file names, de-duplication rules) and computes
the district indicators, so the calibration of the generator can be checked end to end. It is
deliberately simple and is not the ingestion engine: it knows nothing about the layouts.
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date, timedelta
from pathlib import Path

import fastexcel

from orchestration.lib.identifiers import is_valid_credit_code, is_valid_id_number

from .layouts import FIELDS, SYNONYMS
from .population import (
    ACTIVITY_CATEGORIES,
    AID_TYPES,
    DATE_FIELD,
    KEY_FIELD,
    REQUEST_STATUS,
    SERVICE_TYPES,
)

_FW = str.maketrans("０１２３４５６７８９．，－", "0123456789.,-")
_TRUE = {"是", "y", "√", "1", "已建", "已认证", "true"}
_FALSE = {"否", "n", "×", "0", "未建", "未认证", "false"}
_CATEGORIES = {
    ("worker_activities", "category"): set(ACTIVITY_CATEGORIES),
    ("hardship_assistance", "aid_type"): set(AID_TYPES),
    ("care_services", "service_type"): set(SERVICE_TYPES),
    ("worker_requests", "status"): set(REQUEST_STATUS),
}
_SKIP_PREFIX = ("合计", "小计", "填表人", "审核人")


def _norm_header(h: object) -> tuple[str, int]:
    """Header without whitespace or unit, and the cents per unit of the header's values."""
    s = re.sub(r"\s+", "", str(h or "")).replace("(", "（").replace(")", "）")
    if s.endswith("（万元）"):
        return s[: -len("（万元）")], 1_000_000
    if s.endswith("（元）"):
        return s[: -len("（元）")], 100
    return s, 100


_LOOKUP: dict[str, dict[str, str]] = {
    kind: {syn: f for f, syns in by_field.items() for syn in syns}
    for kind, by_field in SYNONYMS.items()
}


def _read_tables(path: Path) -> list[list[list]]:
    """Sheets as lists of rows of cells (strings or None); json as one table."""
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xls"):
        reader = fastexcel.read_excel(str(path))
        out = []
        for name in reader.sheet_names:
            sheet = reader.load_sheet(name, header_row=None, dtypes="string")
            out.append([list(r) for r in sheet.to_polars().rows()])
        return out
    raw = path.read_bytes()
    if suffix == ".json":
        doc = json.loads(raw.decode("utf-8"))
        if isinstance(doc, dict):
            doc = next(doc[k] for k in ("data", "records", "rows") if k in doc)
        header = list(doc[0].keys()) if doc else []
        return [[header] + [[_s(r.get(h)) for h in header] for r in doc]]
    if suffix == ".csv":
        for enc in ("utf-8-sig", "gb18030"):
            try:
                text = raw.decode(enc)
                break
            except UnicodeDecodeError:
                continue
        return [[[c or None for c in row] for row in csv.reader(io.StringIO(text))]]
    raise ValueError(f"not a report: {path.name}")


def _s(v: object) -> str | None:
    if v is None:
        return None
    return str(v)


def _detect(table: list[list]) -> tuple[str, int] | None:
    for i, row in enumerate(table[:10]):
        heads = {_norm_header(c)[0] for c in row if c}
        best = max(
            ((sum(1 for h in heads if h in _LOOKUP[k]), k) for k in _LOOKUP), default=(0, "")
        )
        if best[0] >= 3:
            # prefer the kind whose synonyms cover the most of this row
            return best[1], i
    return None


def _num(s: str) -> float | None:
    t = s.translate(_FW).replace(",", "").replace("元", "").strip()
    try:
        return float(t)
    except ValueError:
        return None


def _date(s: str) -> date | None:
    t = s.strip()
    m = re.fullmatch(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?: 00:00:00)?", t)
    if m:
        return date(int(m[1]), int(m[2]), int(m[3]))
    if re.fullmatch(r"\d{8}", t):
        return date(int(t[:4]), int(t[4:6]), int(t[6:]))
    if re.fullmatch(r"\d{5}(\.0)?", t):
        return date(1899, 12, 30) + timedelta(days=int(float(t)))
    return None


def _bool(s: str) -> bool | None:
    t = s.strip().lower()
    return True if t in _TRUE else False if t in _FALSE else None


_PERIOD_RES = (
    (re.compile(r"Q([1-4])"), "q"),
    (re.compile(r"第?([一二三四])季度"), "cq"),
    (re.compile(r"(20\d{2})-(\d{2})"), "ym"),
    (re.compile(r"(?<!\d)(20\d{2})(0[1-9]|1[0-2])(?!\d)"), "ym"),
    (re.compile(r"(?<!\d)(1[0-2]|[1-9])月"), "m"),
)


def period_of(name: str, year: int) -> tuple[date, date]:
    for rx, what in _PERIOD_RES:
        m = rx.search(name)
        if not m:
            continue
        if what in ("q", "cq"):
            q = int(m[1]) if what == "q" else "一二三四".index(m[1]) + 1
            start, last_month = date(year, 3 * q - 2, 1), 3 * q
        else:
            month = int(m[2]) if what == "ym" else int(m[1])
            start, last_month = date(year, month, 1), month
        end = date(year + (last_month == 12), last_month % 12 + 1, 1) - timedelta(days=1)
        return start, end
    return date(year, 1, 1), date(year, 12, 31)


def version_of(name: str) -> int:
    m = re.search(r"_v(\d+)", name)
    if m:
        return int(m[1])
    return 1 if ("修订" in name or "更正" in name) else 0


def read_year(raw_dir: Path, year: int, *, honour_corrections: bool = True) -> dict:
    """Indicators of one year folder, plus quarantine counts and control-total mismatches.

    ``honour_corrections=False`` counts superseded files too (to show that it matters).
    """
    end = date(year, 12, 31)
    loaded: dict[tuple[str, str], list[tuple[date, date, int, str, list[dict]]]] = {}
    unrecognised: list[str] = []
    kinds: dict[str, set[str]] = {}
    quarantined: dict[str, int] = {}
    total_mismatches: list[str] = []
    for street_dir in sorted(p for p in (raw_dir / str(year)).iterdir() if p.is_dir()):
        street = street_dir.name
        for path in sorted(street_dir.iterdir()):
            try:
                tables = _read_tables(path)
            except ValueError:
                unrecognised.append(path.name)
                continue
            kind = None
            rows: list[dict] = []
            for table in tables:
                found = _detect(table)
                if not found:
                    continue
                kind, hi = found
                rows += _parse(kind, table, hi, year, path.name, quarantined, total_mismatches)
            if kind is None:  # an empty export: the kind can only come from the name
                kind = next((k for k in FIELDS if k in path.name), None)
            if kind is None:
                unrecognised.append(path.name)
                continue
            kinds.setdefault(street, set()).add(kind)
            start, stop = period_of(path.name, year)
            loaded.setdefault((street, kind), []).append(
                (start, stop, version_of(path.name), path.name, rows)
            )
    # corrections: per (street, kind, period) only the highest version counts; then the
    # latest period wins per key
    final: dict[str, dict[str, dict[str, dict]]] = {}
    for (street, kind), files in loaded.items():
        best: dict[tuple[date, date], int] = {}
        for start, stop, v, _, _ in files:
            best[(start, stop)] = max(best.get((start, stop), 0), v)
        keyed: dict[str, tuple[date, dict]] = {}
        for start, stop, v, _, rows in sorted(files, key=lambda f: (f[1], f[0])):
            if honour_corrections and v != best[(start, stop)]:
                continue
            for r in rows:
                keyed[r[KEY_FIELD[kind]]] = (stop, r)
        final.setdefault(kind, {})[street] = {k: r for k, (_, r) in keyed.items()}
    return {
        "district": _indicators(final, year, end),
        "unrecognised": unrecognised,
        "kinds": kinds,
        "quarantined": quarantined,
        "total_mismatches": total_mismatches,
    }


def _parse(kind, table, hi, year, fname, quarantined, mismatches) -> list[dict]:
    types = dict(FIELDS[kind])
    cols: dict[int, tuple[str, int]] = {}
    for j, h in enumerate(table[hi]):
        name, unit = _norm_header(h)
        f = _LOOKUP[kind].get(name)
        if f:
            cols[j] = (f, unit)
    numeric = [(j, f, u) for j, (f, u) in cols.items() if types[f] in ("int", "amount")]
    out = []
    since_sub: list[dict] = []
    above: list[dict] = []
    for row in table[hi + 1 :]:
        cells = [c for c in row if c not in (None, "")]
        if not cells:
            continue
        first = str(cells[0]).strip()
        if first.startswith(_SKIP_PREFIX):
            if first.startswith(("合计", "小计")):
                covered = since_sub if first.startswith("小计") else above
                for j, f, u in numeric:
                    got = _num(row[j] or "0") or 0
                    want = sum(r[f] for r in covered if r.get(f) is not None)
                    ok = (round(got * u) if types[f] == "amount" else got) == want
                    if not ok:
                        mismatches.append(f"{fname}: {first} {f} {got} != {want}")
                if first.startswith("小计"):
                    since_sub = []
            continue
        rec: dict = {}
        reason = None
        for j, (f, unit) in cols.items():
            v = row[j] if j < len(row) else None
            if v is None or str(v).strip() == "":
                rec[f] = None
                continue
            v = str(v)
            t = types[f]
            if t == "int":
                n = _num(v)
                rec[f] = int(n) if n is not None else None
            elif t == "amount":
                n = _num(v)
                if n is None:
                    reason = reason or "non-numeric amount"
                    rec[f] = None
                else:
                    rec[f] = round(n * unit)
                    if n < 0:
                        reason = reason or "negative amount"
            elif t == "date":
                rec[f] = _date(v)
            elif t == "bool":
                rec[f] = _bool(v)
            elif t == "id":
                s = v.replace(" ", "").upper()
                rec[f] = s
                if not is_valid_id_number(s):
                    reason = reason or "identity number"
            elif t == "credit":
                s = v.strip().upper()
                rec[f] = s
                if not is_valid_credit_code(s):
                    reason = reason or "credit code"
            else:
                rec[f] = v.strip()
        for (k, f), allowed in _CATEGORIES.items():
            if k == kind and rec.get(f) not in allowed:
                reason = reason or "unknown category"
        df = DATE_FIELD.get(kind)
        if df and kind != "member_roster":
            d = rec.get(df)
            if d is None or d.year != year:
                reason = reason or "date outside the year"
        since_sub.append(rec)
        above.append(rec)
        if reason:
            quarantined[reason] = quarantined.get(reason, 0) + 1
            continue
        out.append(rec)
    return out


def _indicators(final: dict, year: int, end: date) -> dict:
    d: dict = {}
    ents = [r for s in final.get("enterprise_register", {}).values() for r in s.values()]
    big = [r for r in ents if r["employee_count"] >= 100]
    mid = [r for r in ents if 25 <= r["employee_count"] <= 99]
    d["union_rate_100plus"] = (sum(bool(r["has_union"]) for r in big), len(big))
    d["union_rate_25_99"] = (sum(bool(r["has_union"]) for r in mid), len(mid))
    d["worker_council_enterprises"] = sum(bool(r.get("has_worker_council")) for r in ents)
    d["key_enterprises"] = sum(bool(r.get("is_key_enterprise")) for r in ents)
    latest: dict[str, dict] = {}
    for recs in final.get("member_roster", {}).values():
        for k, r in recs.items():
            if r["collected_on"] is None or r["collected_on"] > end:
                continue
            cur = latest.get(k)
            if cur is None or r["collected_on"] > cur["collected_on"]:
                latest[k] = r
    d["member_records"] = len(latest)
    d["members_verified"] = sum(
        1 for r in latest.values() if r["verified"] and r["verified_on"] and r["verified_on"] <= end
    )

    def rows(kind):
        return [r for s in final.get(kind, {}).values() for r in s.values()]

    cases = rows("dispute_cases")
    d["disputes_mediated"] = len(cases)
    d["disputes_recovered_yuan"] = sum(r["recovered_amount"] for r in cases) / 100
    d["mass_disputes_30plus"] = sum(r["workers_involved"] >= 30 for r in cases)
    reqs = rows("worker_requests")
    d["requests_collected"] = len(reqs)
    d["requests_handled"] = sum(r["status"] == "已办结" for r in reqs)
    d["requests_internal_rate"] = (
        sum(r["status"] == "已办结" and r.get("resolved_level") == "企业内部" for r in reqs),
        len(reqs),
    )
    acts = rows("worker_activities")
    d["worker_events"] = len(acts)
    d["worker_event_person_times"] = sum(r["participants"] for r in acts)

    def cat(c):
        return [r for r in acts if r["category"] == c]

    d["party_history_sessions"] = len(cat("党史学习教育"))
    d["care_events"] = len(cat("关爱慰问"))
    d["care_person_times"] = sum(r["participants"] for r in cat("关爱慰问"))
    d["psych_events"] = len(cat("心理健康"))
    d["psych_person_times"] = sum(r["participants"] for r in cat("心理健康"))
    d["quality_projects"] = len(
        {
            r["project"]
            for r in acts
            if r["category"] in ("技能培训", "综合素质培训") and r["project"]
        }
    )
    d["skills_training_person_times"] = sum(r["participants"] for r in cat("技能培训"))
    d["general_training_person_times"] = sum(r["participants"] for r in cat("综合素质培训"))
    dream = rows("dream_program")
    d["dream_registrants"] = len({r["id_number"] for r in dream})
    d["dream_enterprises"] = len({r["employer_credit_code"] for r in dream})
    aid = rows("hardship_assistance")
    d["hardship_aid_yuan"] = sum(r["amount"] for r in aid) / 100
    d["hardship_aid_person_times"] = len(aid)
    care = rows("care_services")
    d["injury_visit_persons"] = sum(r["persons"] for r in care if r["service_type"] == "工伤探视")
    for k, t in (
        ("counseling_sessions", "心理咨询疏导"),
        ("legal_consultations", "工伤法律咨询"),
        ("lawyer_referrals", "转介驻点律师"),
    ):
        d[k] = sum(r["service_type"] == t for r in care)
    return d


def as_comparable(expected_district: dict) -> dict:
    """The generator's ``summary["expected"][year]`` in the shape :func:`read_year` returns."""
    out = {}
    for k, v in expected_district.items():
        if isinstance(v, str):
            num, den = v.split("(")[1].rstrip(")").split("/")
            out[k] = (int(num), int(den))
        else:
            out[k] = v
    return out


__all__ = ["as_comparable", "period_of", "read_year", "version_of"]

"""Demo landing data: the 11 streets' report files for 2020 and 2021, messy but calibrated.

A package of its own beside ``orchestration`` (the product knows nothing of these files): used
by ``gonghui demo-data``, the tests and the benchmarks.

``generate(raw_dir)`` writes ``raw_dir/<year>/<street_code>/<file>`` for every street and all 8
report kinds of ``docs/spec/landing-contract.md``. Processed by the pipeline's rules (below),
the 2021 files yield exactly the ``demo_2021_value`` of every indicator in
``docs/spec/indicators.csv`` (at ``scale=1.0``); the 2020 files yield the figures returned in
``summary["expected"][2020]``. Output is byte-identical for the same seed and scale.

Rules the data is calibrated under
---------------------------------
* The year folder is the reporting year; each year is computed from its own folder only.
* Rows are de-duplicated on the natural key within a street (``layouts.KEY_FIELD``); where a
  key appears in several period files the row of the latest period wins.
* A file named with ``修订``/``更正``/``_v2``/``_v3`` supersedes the earlier files of the same
  street, kind and period (period from the file name; none = the whole year). Superseded files
  differ from their correction (a dropped row, changed figures, extra keys), so counting them
  breaks the calibration.
* member_roster is cumulative (collected_on may be from 2016 on, never after the year); about
  3 000 members appear in two streets with different collected_on dates: the latest record
  decides the street, ``verified`` and ``verified_on``.
* Event kinds count rows whose event date is inside the year; every calibrated row is.
* 合计/小计 rows (label in the first column) equal the sum of the numeric columns of the data
  rows they cover (all rows above in the sheet / rows since the previous 小计), bad rows whose
  value parses included.
* Bad rows (2021 only, ``layouts.BAD_ROWS``) come on top of the calibrated rows: quarantining
  them leaves every indicator unchanged.

Street layouts (``layouts.PLANS``)
-----------------------------------
* **pinghu** — tidy ``.xlsx`` ledgers: merged title row, 填报单位 note row, canonical headers,
  real Excel dates, 是/否, 合计 row and 填表人/审核人 rows; hardship has 小计 every 20 rows;
  activities come as quarterly files (``第一季度`` …); disputes resubmitted as
  ``劳资纠纷台账（修订版）.xlsx`` (superseding the annual file); roster is a UTF-8-with-BOM CSV
  system export. Bad rows: credit check digit, 待核实 amount, negative amount, a case accepted
  in December of the previous year, identity numbers in scientific notation.
* **bantian** — system exports: UTF-8 CSV and JSON (roster ``{"data": [...]}``, disputes a bare
  list, requests ``{"records": [...]}`` in monthly files ``bantian_worker_requests_202103.json``,
  activities ``{"rows": [...]}``), ISO dates, 1/0 booleans, second header synonyms; enterprise
  register resubmitted as ``…_v2.csv``.
* **buji** — English file names, GBK CSV with CRLF, ``2021/3/5`` dates, Y/N, lowercase ``x`` in
  identity numbers, 建会情况 (已建/未建); cumulative quarterly roster
  (``buji_members_2021Q1..Q4.csv``) and disputes (with a title row; Q3 resubmitted as ``_v2``:
  earlier quarters show cases as 处理中 that later close), quarterly request files.
* **nanwan** — legacy ``.xls`` (xlwt): merged titles, line breaks in headers, Excel serial
  dates (dream program: real dates; disputes: ``2021年3月5日``), √/×, 合计 rows; quarterly
  request files (``一季度`` …); roster a GB18030 CSV.
* **jihua** — one ``.xlsx`` per kind with a sheet per month (``1月`` … ``12月``) plus a
  ``填表说明`` sheet, ``2021.3.5`` dates, half-width ``(元)``, title, 小计 every 10 rows and 合计
  per sheet; enterprise register with 小计 per community.
* **henggang** — ``.xlsx`` with a sheet per quarter (``一季度`` …) plus ``说明``; amounts in
  ``（万元）`` with 6 decimals, ``20210305`` dates (text), numbers as text with thousands
  separators, 建会情况; roster ``{"records": [...]}`` JSON.
* **yuanshan** — hand-made ``.xlsx``: spaced headers (``姓 名``), shuffled columns, extra 序号 and
  备注 columns, blank rows, ``2021年3月5日``, 1/0, identity numbers with spaces, monthly files
  (``园山街道2021年3月劳资纠纷台账.xlsx``), the roster as a moderate xlsx.
* **longcheng** — GB18030 CSV (dream program: GBK) with full-width digits, trailing ``元``,
  stray spaces in categories, mixed date spellings, 认证状态 (已认证/未认证), monthly files named
  ``…2021-03.csv``.
* **longgang** — quarterly ``.xlsx`` (``第一季度`` …) with corrections: disputes Q2 ``_更正``,
  activities Q3 ``_v2`` then ``_v3``, enterprise register ``（修订）``, roster CSV ``_v2``; Y/N,
  ``2021/3/5``.
* **baolong** — ``.xlsx`` with Excel serial dates, shuffled columns, extra 序号/数据来源 columns,
  blank rows, √/×; hardship as ``.xls`` with real dates and 合计; roster a bare JSON list.
* **pingdi** — UTF-8-with-BOM CSV with spaced headers and title/note rows; roster a moderate
  ``.xlsx`` with real dates; plus ``报送说明.txt``, which is not a report (unrecognised file).

Bad rows per street and kind are listed in ``layouts.BAD_ROWS``; ``verify.read_year`` is a small
independent reader that recomputes the figures from the files (used by the tests and by
``benchmarks/demo_data.py --verify``); ``expected_figures`` gives district and per-street
figures without writing files.

``MANIFEST`` maps each deviation family (``layouts.FAMILIES``) to the files exercising it
(``"<year>/<street>/<file>"``); it depends on the layouts only, not on scale or seed.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import shutil
import time
from datetime import date
from pathlib import Path

from . import layouts as L
from . import population as P
from .writers import Sheet, write_csv, write_json, write_xls, write_xlsx

__all__ = ["MANIFEST", "expected_figures", "generate", "manifest"]

MANIFEST: dict[str, list[str]] = L.build_manifest((2020, 2021))
BIG_SHEET = 5000  # rows; xlsx sheets above this are written in constant-memory mode


def manifest(years: tuple[int, ...] = (2020, 2021)) -> dict[str, list[str]]:
    """Deviation family -> files exercising it, for the given years."""
    return L.build_manifest(years)


def _mark_received(year_dir: Path, year: int) -> None:
    """Date every file of the year as received on 31 January of the next year, the last of the
    year's submissions: the demo stands for files that arrived long ago (complete, so the
    pipeline reads them at once instead of deferring files "modified in the last
    GONGHUI_SETTLE_SECONDS"), and the same seed gives the same files, dates included."""
    received = dt.datetime(year + 1, 1, 31, 12, 0).timestamp()
    for path in year_dir.rglob("*"):
        if path.is_file():
            os.utime(path, (received, received))


def generate(
    raw_dir: Path,
    *,
    scale: float = 1.0,
    seed: int = 2021,
    years: tuple[int, ...] = (2020, 2021),
) -> dict:
    """Write the demo landing zone under ``raw_dir`` and return a summary.

    Each ``raw_dir/<year>/`` of ``years`` is deleted and rewritten from scratch; nothing else
    under ``raw_dir`` is touched. The summary holds, per year: ``files`` (files written),
    ``rows`` (physical data rows written per kind, superseded, repeated and bad rows
    included), ``records`` (canonical records that count per kind; member_roster: records
    collected by the year's end, cross-street duplicates included) and ``expected`` (the
    district figures the pipeline must produce; ratios as ``"85.0 (3236/3807)"``).
    """
    t0 = time.perf_counter()
    raw_dir = Path(raw_dir)
    universe = P.build_universe(scale, seed)
    summary: dict = {"files": {}, "rows": {}, "records": {}, "expected": {}}
    for year in years:
        data = P.build_year(universe, year, scale, seed)
        year_dir = raw_dir / str(year)
        if year_dir.exists():
            shutil.rmtree(year_dir)
        year_dir.mkdir(parents=True)
        n_files = 0
        rows_written = dict.fromkeys(P.KINDS, 0)
        for street in P.STREET_CODES:
            street_dir = year_dir / street
            street_dir.mkdir()
            for kind in P.KINDS:
                records = data.records[kind][street]
                bad = _bad_rows(kind, street, year, seed, records)
                for spec in L.plan_files(street, kind, year):
                    rows_written[kind] += _write_file(
                        street_dir / spec.name, spec, year, records, bad, seed
                    )
                    n_files += 1
            if street in L.JUNK_FILES:
                name, text = L.JUNK_FILES[street]
                (street_dir / name).write_text(text.format(y=year), encoding="utf-8")
                n_files += 1
        _mark_received(year_dir, year)
        summary["files"][year] = n_files
        summary["rows"][year] = rows_written
        summary["records"][year] = _record_counts(data, year)
        summary["expected"][year] = _plain(P.expected_indicators(data)["district"])
    summary["seconds"] = round(time.perf_counter() - t0, 2)
    return summary


def expected_figures(
    *, scale: float = 1.0, seed: int = 2021, years: tuple[int, ...] = (2020, 2021)
) -> dict[int, dict]:
    """District and per-street figures of the data ``generate`` writes (without writing)."""
    universe = P.build_universe(scale, seed)
    return {y: P.expected_indicators(P.build_year(universe, y, scale, seed)) for y in years}


def _plain(district: dict) -> dict:
    """Ratios as ``"85.0 (3236/3807)"`` (the spec's notation), other figures as they are."""
    out = {}
    for k, v in district.items():
        if isinstance(v, dict):
            out[k] = f"{v['value']} ({v['numerator']}/{v['denominator']})"
        else:
            out[k] = v
    return out


def _record_counts(data: P.YearData, year: int) -> dict[str, int]:
    end = P.year_end(year)
    out = {}
    for kind in P.KINDS:
        if kind == "member_roster":
            out[kind] = sum(
                1 for s in P.STREET_CODES for m in data.records[kind][s] if m.collected_on <= end
            )
        else:
            out[kind] = sum(len(data.records[kind][s]) for s in P.STREET_CODES)
    return out


# ---------------------------------------------------------------------------------------------
# rows of one file


def _clamped_date(kind: str, rec, year: int) -> date | None:
    d = rec.get(P.DATE_FIELD[kind])
    if d is None:
        return None
    if kind == "member_roster":
        return d
    return min(max(d, date(year, 1, 1)), date(year, 12, 31))


def _select(kind: str, records: list, sheet: L.SheetSpec, year: int) -> list:
    if kind == "enterprise_register":
        return list(records)
    if kind == "member_roster":
        end = sheet.end
        return [m for m in records if m.collected_on <= end]
    out = []
    for r in records:
        d = _clamped_date(kind, r, year)
        if d is not None and d <= sheet.end and (sheet.cumulative or d >= sheet.start):
            out.append(r)
    return out


def _snapshot(kind: str, recs: list, as_of: date) -> list:
    """Records as a street saw them on ``as_of`` (earlier cumulative files)."""
    if kind == "dispute_cases":
        out = []
        for r in recs:
            if r.get("closed_on") and r["closed_on"] > as_of:
                r = dict(r, outcome="处理中", closed_on=None, recovered_amount=0)
            out.append(r)
        return out
    if kind == "worker_requests":
        out = []
        for r in recs:
            if r.get("_done_on") and r["_done_on"] > as_of:
                r = dict(r, status="办理中", resolved_level=None)
            out.append(r)
        return out
    return recs


def _write_file(path: Path, spec: L.FileSpec, year: int, records, bad, seed: int) -> int:
    style = spec.plan.style
    kind = spec.kind
    sheets: list[Sheet] = []
    n_rows = 0
    header = None
    for k, sh in enumerate(spec.sheets):
        recs = _select(kind, records, sh, year)
        recs = _snapshot(kind, recs, spec.as_of)
        if spec.bad:
            recs = recs + [b for b in _select(kind, bad, sh, year)]
        if spec.version:
            rng = random.Random(f"{seed}|superseded|{year}|{spec.street}|{kind}|{spec.name}|{k}")
            recs = _perturb(kind, recs, rng, spec.street, year, spec.version)
        n_rows += len(recs)
        if len(spec.sheets) > 1:
            suffix = f"（{sh.name}）"
        elif spec.period_label:
            suffix = f"（{spec.period_label}）"
        else:
            suffix = ""
        rs = L.render_sheet(kind, spec.street, year, style, recs, spec.as_of, suffix)
        header = rs.header
        sheets.append(Sheet(sh.name, rs.rows, rs.merge_title, rs.ncols, rs.header_row))
    if style.note_sheet and len(spec.sheets) > 1:
        note = Sheet(style.note_sheet, _note_rows(spec, year))
        if style.note_sheet == "填表说明":
            sheets.insert(0, note)
        else:
            sheets.append(note)
    if style.fmt == "xlsx":
        write_xlsx(path, sheets, big=n_rows > BIG_SHEET)
    elif style.fmt == "xls":
        write_xls(path, sheets)
    elif style.fmt == "csv":
        write_csv(path, sheets[0].rows, encoding=style.encoding, crlf=style.crlf)
    else:
        rows = sheets[0].rows
        next(rows)  # the header; json holds records only
        write_json(path, header, rows, wrapper=style.json_wrap)
    return n_rows


def _note_rows(spec: L.FileSpec, year: int) -> list[list]:
    return [
        [f"{L.KIND_TITLE[spec.kind]}填表说明"],
        ["1. 每个工作表为一个统计期，请勿合并工作表。"],
        ["2. 日期请按“年.月.日”填写，金额单位见表头。"],
        ["3. 统一社会信用代码为18位，身份证号码为18位。"],
        [f"4. 请于{year + 1}年1月15日前报送区总工会。"],
    ]


_UNKNOWN_CATEGORY = {
    "worker_requests": ("status", "已回复"),
    "worker_activities": ("category", "文体比赛"),
    "hardship_assistance": ("aid_type", "临时救助"),
    "care_services": ("service_type", "走访慰问"),
    "dispute_cases": ("outcome", "已调解"),
}
_AMOUNT_FIELD = {"dispute_cases": "recovered_amount", "hardship_assistance": "amount"}


def _bad_rows(kind: str, street: str, year: int, seed: int, records: list) -> list:
    types = L.BAD_ROWS.get((street, kind), ()) if year >= 2021 else ()
    if not types:
        return []
    rng = random.Random(f"{seed}|bad|{year}|{street}|{kind}")
    ids = P.IdFactory(rng)
    credits = P.CreditFactory(rng)
    out = []
    for k, bt in enumerate(types):
        december = P.day(date(year, 12, 1).toordinal() + rng.randint(0, 19))
        if kind == "member_roster":
            m = P.Member(
                ids.new(), P.make_name(rng), P.make_phone(rng), None, december, december, None
            )
            if bt == "bad_id_check":
                m.id_number = P.corrupt_id(m.id_number)
            elif bt == "bad_id_scientific":
                m.raw = {"id_number": f"{m.id_number[0]}.{m.id_number[1:6]}E+17"}
            out.append(m)
            continue
        if kind == "enterprise_register":
            base = next(r for r in records if r["employee_count"] >= 100 and r["has_union"])
        else:
            base = rng.choice(records) if records else None
            if base is None:
                continue
        r = {k2: v for k2, v in base.items() if not k2.startswith("_")}
        key = P.KEY_FIELD[kind]
        if kind not in ("dream_program", "enterprise_register"):
            r[key] = f"{base[key]}-B{k + 1}"
        if kind in P.DATE_FIELD:
            r[P.DATE_FIELD[kind]] = december
        if kind == "dispute_cases" and r.get("closed_on"):
            r["closed_on"] = date(year, 12, 28)
        if "id_number" in r:
            r["id_number"] = ids.new()
        if kind == "enterprise_register":
            r["credit_code"] = credits.new()
            r["enterprise_name"] = r["enterprise_name"].replace("有限公司", "分公司")
        if kind == "dream_program":
            r["employer_credit_code"] = credits.new()
        if bt == "bad_id_check":
            r["id_number"] = P.corrupt_id(r["id_number"])
        elif bt == "bad_credit_check":
            f = "employer_credit_code" if kind == "dream_program" else "credit_code"
            r[f] = P.corrupt_credit(r[f])
        elif bt == "bad_date_prev_year":
            r[P.DATE_FIELD[kind]] = date(year - 1, 12, 28)
            if kind == "dispute_cases":
                r["closed_on"] = date(year, 1, 20)
        elif bt == "bad_date_next_year":
            r[P.DATE_FIELD[kind]] = date(year + 1, 1, 4)
        elif bt == "bad_negative_amount":
            f = _AMOUNT_FIELD[kind]
            r[f] = -abs(r[f] or 150000)
        elif bt == "bad_nonnumeric_amount":
            r["_raw"] = {_AMOUNT_FIELD[kind]: "待核实"}
        elif bt == "bad_unknown_category":
            f, v = _UNKNOWN_CATEGORY[kind]
            r[f] = v
        if kind == "dispute_cases" and bt != "bad_negative_amount" and not r["recovered_amount"]:
            r["recovered_amount"] = 320000
            r["outcome"] = "调解成功"
            r["closed_on"] = r["closed_on"] or date(year, 12, 28)
        out.append(r)
    return out


def _perturb(
    kind: str, recs: list, rng: random.Random, street: str, year: int, version: int
) -> list:
    """An earlier, superseded version of ``recs``: a row missing, figures changed, extra keys."""
    out = list(recs)
    if not out:
        return out
    if len(out) > 3:
        out.pop(rng.randrange(len(out)))
    ids = P.IdFactory(rng)
    credits = P.CreditFactory(rng)
    key = P.KEY_FIELD[kind]
    for _ in range(min(2, len(out))):
        i = rng.randrange(len(out))
        out[i] = _changed(kind, out[i])
    for j in range(2):
        base = rng.choice(recs)
        if kind == "member_roster":
            m = base.copy()
            m.id_number = ids.new()
            m.raw = None
            out.append(m)
            continue
        r = dict(base)
        r.pop("_raw", None)
        if kind in ("dream_program",):
            r["id_number"] = ids.new()
        elif kind == "enterprise_register":
            r["credit_code"] = credits.new()
        else:
            r[key] = f"{base[key]}-{version}{j}"
        out.append(_changed(kind, r))
    return out


def _changed(kind: str, rec):
    if kind == "member_roster":
        m = rec.copy()
        m.verified_on = None if m.verified_on else m.collected_on
        return m
    r = dict(rec)
    if kind == "enterprise_register":
        r["has_union"] = not r["has_union"]
        r["employee_count"] += 17
    elif kind == "dispute_cases":
        r["recovered_amount"] = (r["recovered_amount"] or 0) + 88800
        r["workers_involved"] += 31
    elif kind == "worker_requests":
        r["status"] = "已办结" if r["status"] != "已办结" else "办理中"
        r["resolved_level"] = "企业内部" if r["status"] == "已办结" else None
    elif kind == "worker_activities":
        r["participants"] += 50
    elif kind == "hardship_assistance":
        r["amount"] = (r["amount"] or 0) + 50000
    elif kind == "care_services":
        r["persons"] += 2
    elif kind == "dream_program":
        r["major"] = "工商管理"
    return r

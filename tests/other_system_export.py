"""A generated export of another system (the "Northwind HRIS"), for onboarding by configuration.

Nothing in it is a landing-contract spelling: English headers on row 5 of a sheet among others,
the system's own code lists, amounts in 10k CNY, ``-`` for empty, day-first dates
(``03/04/2021`` is 3 April) in one file and English month names (``Apr 3, 2021``,
``3-Apr-2021``) with ``1.234,50``-style amounts in a second, and a footer line under the data.
:data:`HRIS_TEMPLATES` is the mapping that onboards both files — configuration only.
"""

from __future__ import annotations

from pathlib import Path

from conftest import Landing, make_credit_code, make_id

STREET = "longcheng"
CASES_FILE = "HRIS_disputes_2021.xlsx"
AID_FILE = "HRIS_assistance_2021.xlsx"
CC = [make_credit_code(f"91440300MA5HRWT{i:02d}") for i in range(1, 4)]
IDS = [make_id(f"44030719850101{i:03d}") for i in range(101, 104)]

TITLE = [
    ["Northwind HRIS — case export"],
    ["Exported 2022-01-04 by admin"],
    [],
    ["Filter: all cases, 2021"],
]
CASES_HEADER = [
    "Ref", "Opened", "Employer", "Employer USCC", "Headcount", "Category", "Result",
    "Recovered (10k CNY)", "Closed", "Notes",
]  # fmt: skip
CASES_ROWS = [
    ["NW-0001", "03/04/2021", "Acme Precision Ltd", CC[0], 35, "PAY", "SETTLED", "1.2345",
     "20/04/2021", "mass dispute"],
    ["NW-0002", "15/06/2021", "Beta Logistics Ltd", CC[1], 2, "INJ", "ARB", "0.5", "-", "-"],
    ["NW-0003", "01/12/2021", "Gamma Foods Ltd", "-", 4, "OT", "PENDING", "0", "-", None],
    ["NW-0004", "12/01/2021", "Gamma Foods Ltd", CC[2], 1, "PAY", "WD", "0", "13/01/2021",
     None],
]  # fmt: skip
CASES_SHEET = [*TITLE, CASES_HEADER, *CASES_ROWS, ["4 records — Northwind HRIS v3"]]
ABOUT_SHEET = [["Northwind HRIS"], ["This workbook was generated automatically."]]
LOOKUP_SHEET = [["Code", "Meaning"], ["PAY", "Unpaid wages"], ["INJ", "Work injury"]]

AID_HEADER = ["Payment ID", "Paid", "Beneficiary", "ID number", "Aid", "Amount (CNY)"]
AID_ROWS = [
    ["AID-01", "Apr 3, 2021", "Zhang San", IDS[0], "EDU", "1.234,50"],
    ["AID-02", "3-May-2021", "Li Si", IDS[1], "MED", "800"],
    ["AID-03", "December 24, 2021", "Wang Wu", IDS[2], "LIFE", "2.000,00"],
]
AID_SHEET = [*TITLE, AID_HEADER, *AID_ROWS, ["3 records — Northwind HRIS v3"]]

#: (case_no, accepted_on, credit_code, workers, dispute_type, outcome, recovered, closed_on)
EXPECTED_CASES = [
    ("NW-0001", "2021-04-03", CC[0], 35, "欠薪", "调解成功", 12345.0, "2021-04-20"),
    ("NW-0002", "2021-06-15", CC[1], 2, "工伤", "转仲裁", 5000.0, None),
    ("NW-0003", "2021-12-01", None, 4, "加班", "处理中", 0.0, None),
    ("NW-0004", "2021-01-12", CC[2], 1, "欠薪", "撤回", 0.0, "2021-01-13"),
]
#: (payment_no, paid_on, aid_type, amount)
EXPECTED_AID = [
    ("AID-01", "2021-04-03", "子女助学", 1234.5),
    ("AID-02", "2021-05-03", "医疗救助", 800.0),
    ("AID-03", "2021-12-24", "生活救助", 2000.0),
]

HRIS_TEMPLATES = """
  # 龙城 switched to the Northwind HRIS in 2021.
  - name: longcheng_hris_cases
    streets: [longcheng]
    file_glob: "HRIS_disputes_*.xlsx"
    kind: dispute_cases
    sheet: "Disput*"               # the other sheets (About, Lookup) are skipped
    header_row: 5
    skip_rows_below: 1             # the "4 records — …" footer
    columns:
      Ref: case_no
      Opened: accepted_on
      Employer: enterprise_name
      Employer USCC: credit_code
      Headcount: workers_involved
      Category: dispute_type
      Result: outcome
      Recovered (10k CNY): recovered_amount
      Closed: closed_on
    units: {recovered_amount: 万元}
    date_formats: ["%d/%m/%Y"]     # 03/04/2021 is 3 April
    null_markers: ["-"]
    values:
      dispute_type: {PAY: 欠薪, SSI: 社保, TERM: 解除劳动合同, INJ: 工伤, OT: 加班, OTH: 其他}
      outcome: {SETTLED: 调解成功, ARB: 转仲裁, COURT: 转诉讼, WD: 撤回, PENDING: 处理中}
  - name: longcheng_hris_assistance
    streets: [longcheng]
    file_glob: "HRIS_assistance_*.xlsx"
    kind: hardship_assistance
    header_row: 5
    skip_rows_below: 1
    columns:
      Payment ID: payment_no
      Paid: paid_on
      Beneficiary: name
      ID number: person_key
      Aid: aid_type
      Amount (CNY): amount
    fields:
      paid_on: {date_formats: ["%B %d, %Y", "%d-%b-%Y"]}  # %B: Apr or April
      amount: {decimal_separator: ",", thousands_separator: "."}
    values:
      aid_type: {EDU: 子女助学, LIFE: 生活救助, MED: 医疗救助, JOB: 就业培训, PSY: 心理辅导}
"""


def hris_exports(landing: Landing, street: str = STREET) -> tuple[Path, Path]:
    """Write the system's two exports for ``street``: (cases file, assistance file)."""
    cases = landing.xlsx(
        street,
        CASES_FILE,
        {"About": ABOUT_SHEET, "Disputes": CASES_SHEET, "Lookup": LOOKUP_SHEET},
    )
    aid = landing.xlsx(street, AID_FILE, {"Payments": AID_SHEET})
    return cases, aid

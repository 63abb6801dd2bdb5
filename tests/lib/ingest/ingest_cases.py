"""Fixture data and helpers shared by the tests of :mod:`orchestration.lib.ingest` (tiny landing
folders; the people in them must never reach any table).
"""

from __future__ import annotations

import hashlib
import hmac

from conftest import PII_KEY, fetch, make_credit_code, make_id

CC1 = make_credit_code("91440300MA5F00001")
CC2 = make_credit_code("91440300MA5F00002")
CC3 = make_credit_code("91440300MA5F00003")

# People of the fixtures: none of these may reach any table.
ID1 = make_id("44030719900101123")
ID2 = make_id("44030719851231002")
ID_X = make_id("44030719900101103")  # check character X
ID_BAD = ID1[:-1] + ("0" if ID1[-1] != "0" else "1")
NAMES = ["欧阳明远", "司马青云", "诸葛春华", "上官秋实"]
PHONES = ["13800138001", "13900139002", "13700137003"]
PII_VALUES = [*NAMES, *PHONES, ID1, ID2, ID_X, ID_BAD, ID_X.lower()]

DISPUTE_HEADER = [
    "案件编号",
    "受理日期",
    "企业名称",
    "统一社会信用代码",
    "涉及人数",
    "纠纷类型",
    "处理结果",
    "结案日期",
    "挽回经济损失（元）",
]
ROSTER_HEADER = [
    "姓名",
    "公民身份号码",
    "性别",
    "手机号码",
    "单位统一社会信用代码",
    "入会日期",
    "采集日期",
    "是否实名认证",
    "实名认证日期",
]
HARDSHIP_HEADER = [
    "发放编号",
    "发放日期",
    "帮扶类型",
    "受助职工姓名",
    "公民身份号码",
    "发放金额（元）",
]
ACTIVITY_HEADER = ["活动编号", "活动名称", "活动类别", "所属项目", "活动日期", "参与人次"]


def dispute(no, accepted="2021-03-05", workers=3, amount="1000", dtype="欠薪", cc=CC1):
    return [no, accepted, "甲公司", cc, workers, dtype, "调解成功", None, amount]


def roster(name, id_number, phone=None, collected="2021-06-30", verified="是"):
    return [name, id_number, "男", phone, CC1, "2020-01-02", collected, verified, None]


def activity(no, held_on="2021-05-01", participants=20, category="职工活动"):
    return [no, "篮球赛", category, None, held_on, participants]


def loaded(con, kind: str, order: str = "_source_row") -> list[dict]:
    return fetch(con, f"select * from raw.{kind} order by _source_file, _source_sheet, {order}")


def quarantine(con) -> list[dict]:
    return fetch(con, "select * from raw.quarantine order by _source_file, _source_row")


def hashed(id_number: str, key: bytes = PII_KEY) -> str:
    return hmac.digest(key, id_number.encode(), hashlib.sha256).hex()


def fetch_columns(con, table):
    return con.execute(f"describe raw.{table}").fetchall()

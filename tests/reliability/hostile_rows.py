"""Rows of a valid report (worker activities) for the reliability tests."""

ACTIVITY_HEADER = ["活动编号", "活动名称", "活动类别", "所属项目", "活动日期", "参与人次"]


def activity(no: str, held_on: str = "2021-05-01", participants: int = 20) -> list:
    return [no, "篮球赛", "职工活动", None, held_on, participants]

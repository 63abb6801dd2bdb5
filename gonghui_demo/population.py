"""Calibrated canonical records behind the demo landing data.

Everything here is *canonical*: dates are :class:`datetime.date`, amounts are integer cents,
booleans are ``bool``. The layouts (:mod:`.layouts`) and writers (:mod:`.writers`) turn these
records into the messy files the streets send. The records of a year, de-duplicated by the
pipeline's rules, are exactly what :func:`expected_indicators` counts; at ``scale=1.0`` the 2021
figures equal ``demo_2021_value`` of ``docs/spec/indicators.csv``.

Randomness comes from :class:`random.Random` instances seeded by strings such as
``"2021|events|2021"`` so that one kind's records do not shift when another kind changes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date

from orchestration.lib.identifiers import CREDIT_ALPHABET, credit_check_char, id_check_char

# (code, name, short name, key prefix) in the order of docs/spec/streets.csv
STREETS: tuple[tuple[str, str, str, str], ...] = (
    ("pinghu", "平湖街道", "平湖", "PH"),
    ("bantian", "坂田街道", "坂田", "BT"),
    ("buji", "布吉街道", "布吉", "BJ"),
    ("nanwan", "南湾街道", "南湾", "NW"),
    ("jihua", "吉华街道", "吉华", "JH"),
    ("henggang", "横岗街道", "横岗", "HG"),
    ("yuanshan", "园山街道", "园山", "YS"),
    ("longcheng", "龙城街道", "龙城", "LC"),
    ("longgang", "龙岗街道", "龙岗", "LG"),
    ("baolong", "宝龙街道", "宝龙", "BL"),
    ("pingdi", "坪地街道", "坪地", "PD"),
)
STREET_CODES: tuple[str, ...] = tuple(s[0] for s in STREETS)
STREET_NAME = {s[0]: s[1] for s in STREETS}
STREET_SHORT = {s[0]: s[2] for s in STREETS}
STREET_PREFIX = {s[0]: s[3] for s in STREETS}
# relative size of the streets (per cent); bigger streets get more of everything
WEIGHTS = {
    "pinghu": 12,
    "bantian": 16,
    "buji": 15,
    "nanwan": 4,
    "jihua": 6,
    "henggang": 11,
    "yuanshan": 3,
    "longcheng": 11,
    "longgang": 10,
    "baolong": 7,
    "pingdi": 5,
}

KINDS: tuple[str, ...] = (
    "enterprise_register",
    "member_roster",
    "dispute_cases",
    "worker_requests",
    "worker_activities",
    "dream_program",
    "hardship_assistance",
    "care_services",
)
# the date a row of an event kind is counted by (member_roster: collected_on, cumulative)
DATE_FIELD = {
    "member_roster": "collected_on",
    "dispute_cases": "accepted_on",
    "worker_requests": "raised_on",
    "worker_activities": "held_on",
    "dream_program": "registered_on",
    "hardship_assistance": "paid_on",
    "care_services": "served_on",
}


def _key_fields() -> dict[str, str]:
    """The record field of each kind's natural key: the mapping's ``key:`` (the one list of
    keys), where an identity number (hashed to person_key on ingestion) is ``id_number``."""
    from orchestration.lib.mapping import load_mapping

    out = {}
    for name, kind in load_mapping().kinds.items():
        (key,) = kind.key
        out[name] = "id_number" if kind.fields[key].type == "id_number" else key
    return out


KEY_FIELD = _key_fields()

# District targets. 2021 = docs/spec/indicators.csv (demo_2021_value) plus free choices for
# the figures the spec does not fix (event counts of the training categories, ...).
TARGETS: dict[int, dict[str, int]] = {
    2021: {
        "disputes": 1046,
        "recovered_cents": 4468120000,
        "mass": 13,
        "requests": 3807,
        "handled": 3623,
        "internal": 3236,
        "events": 1720,
        "person_times": 1002318,
        "party": 82,
        "party_pt": 5166,
        "care_ev": 34,
        "care_pt": 51380,
        "psych": 213,
        "psych_pt": 79412,
        "projects": 48,
        "skills_ev": 80,
        "skills_pt": 4000,
        "general_ev": 120,
        "general_pt": 10000,
        "dream": 1736,
        "dream_ent": 107,
        "hardship": 296,
        "hardship_cents": 71246050,
        "injury_services": 171,
        "injury_persons": 1327,
        "counseling": 56,
        "legal": 433,
        "lawyer": 118,
    },
    2020: {
        "disputes": 1189,
        "recovered_cents": 5231764035,
        "mass": 19,
        "requests": 3318,
        "handled": 3105,
        "internal": 2744,
        "events": 1402,
        "person_times": 803566,
        "party": 12,
        "party_pt": 731,
        "care_ev": 29,
        "care_pt": 44210,
        "psych": 176,
        "psych_pt": 61027,
        "projects": 41,
        "skills_ev": 70,
        "skills_pt": 3520,
        "general_ev": 105,
        "general_pt": 8650,
        "dream": 1528,
        "dream_ent": 96,
        "hardship": 312,
        "hardship_cents": 68932000,
        "injury_services": 158,
        "injury_persons": 1211,
        "counseling": 47,
        "legal": 398,
        "lawyer": 97,
    },
}
# the membership universe is calibrated to 2021 and looked at "as of" each year's end
UNIVERSE = {
    "ent_100": 2046,
    "ent_100_union": 2042,
    "ent_25": 6318,
    "ent_25_union": 6027,
    "ent_small": 3127,
    "council": 144,
    "key": 39,
    "members": 750412,
    "verified": 170385,
    "cross_dups": 3000,
}

# indicator codes in the order of docs/spec/indicators.csv
INDICATORS: tuple[str, ...] = (
    "union_rate_100plus",
    "union_rate_25_99",
    "worker_council_enterprises",
    "key_enterprises",
    "member_records",
    "members_verified",
    "disputes_mediated",
    "disputes_recovered_yuan",
    "mass_disputes_30plus",
    "requests_collected",
    "requests_handled",
    "requests_internal_rate",
    "worker_events",
    "worker_event_person_times",
    "party_history_sessions",
    "care_events",
    "care_person_times",
    "psych_events",
    "psych_person_times",
    "quality_projects",
    "skills_training_person_times",
    "general_training_person_times",
    "dream_registrants",
    "dream_enterprises",
    "hardship_aid_yuan",
    "hardship_aid_person_times",
    "injury_visit_persons",
    "counseling_sessions",
    "legal_consultations",
    "lawyer_referrals",
)

DISPUTE_TYPES = ("欠薪", "社保", "解除劳动合同", "工伤", "加班", "其他")
OUTCOMES = ("调解成功", "转仲裁", "转诉讼", "撤回", "处理中")
REQUEST_STATUS = ("已办结", "办理中", "未处理")
LEVELS = ("企业内部", "园区", "社区", "街道", "区")
ACTIVITY_CATEGORIES = (
    "职工活动",
    "技能培训",
    "综合素质培训",
    "关爱慰问",
    "心理健康",
    "党史学习教育",
)
AID_TYPES = ("子女助学", "生活救助", "医疗救助", "就业培训", "心理辅导")
SERVICE_TYPES = ("工伤探视", "心理咨询疏导", "工伤法律咨询", "转介驻点律师")

_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蔡蒋余于杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方邹熊白孟秦邱侯江尹薛闫段雷龙黎史陶贺毛郝"
)
_GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏辉建国志新春晓燕斌浩宇凯俊峰"
    "婷雪琳欣怡佳颖梅丹慧晨阳海波林子涵文博一诺思远嘉豪梓轩雨泽家乐天佑晓东永健德福荣"
)
_REGIONS = (
    "440307",
    "440307",
    "440307",
    "440303",
    "440304",
    "445281",
    "445221",
    "445202",
    "440513",
    "441581",
    "441523",
    "440882",
    "431224",
    "430921",
    "430523",
    "511321",
    "513030",
    "360731",
    "362330",
    "450821",
    "452122",
    "420621",
    "421127",
    "410527",
    "411523",
    "350583",
    "441424",
)
# birth dates of working-age members, as YYYYMMDD
_BIRTHS = tuple(
    f"{date.fromordinal(o):%Y%m%d}"
    for o in range(date(1962, 1, 1).toordinal(), date(2002, 12, 31).toordinal() + 1)
)
_INDUSTRIES = (
    "制造业",
    "制造业",
    "制造业",
    "批发和零售业",
    "建筑业",
    "信息传输、软件和信息技术服务业",
    "住宿和餐饮业",
    "交通运输、仓储和邮政业",
    "租赁和商务服务业",
    "居民服务、修理和其他服务业",
)
_NAME_WORDS = (
    "华鑫",
    "宏达",
    "创维",
    "恒通",
    "金盛",
    "新天",
    "富康",
    "联合",
    "汇丰",
    "兴业",
    "嘉信",
    "永昌",
    "宝利",
    "安捷",
    "科隆",
    "大成",
    "德美",
    "瑞丰",
    "鸿图",
    "锦华",
    "泰和",
    "东升",
    "百川",
    "中恒",
    "海洋",
    "美达",
    "立信",
    "世纪",
    "天虹",
    "凯旋",
    "佳宁",
    "博远",
    "精工",
    "万润",
    "长盈",
    "信和",
)
_NAME_TAILS = (
    "电子",
    "科技",
    "精密",
    "塑胶",
    "五金",
    "物流",
    "实业",
    "光电",
    "模具",
    "包装",
    "服饰",
    "家具",
    "建设",
    "餐饮",
    "印刷",
    "新材料",
    "智能",
    "通讯",
    "医疗器械",
    "玩具",
)
_NAME_FORMS = ("有限公司", "有限公司", "有限公司", "股份有限公司", "实业有限公司")
_COMMUNITY_TAILS = ("社区", "社区", "社区")
COMMUNITIES = {
    "pinghu": ("平湖", "山厦", "良安田", "凤凰", "辅城坳", "新南", "禾花", "鹅公岭"),
    "bantian": ("坂田", "五和", "岗头", "马安堂", "杨美", "象角塘", "大发埔", "南坑"),
    "buji": ("布吉", "长龙", "德兴", "水径", "罗岗", "丹竹头", "大芬", "三联"),
    "nanwan": ("南岭村", "沙塘布", "丹竹头", "上李朗", "下李朗", "樟树布"),
    "jihua": ("甘坑", "上水径", "水径", "丽湖", "光华", "三联"),
    "henggang": ("横岗", "四联", "六约", "西坑", "保安", "安良", "大康", "荷坳"),
    "yuanshan": ("大康", "荷坳", "保安", "西坑", "银荷"),
    "longcheng": ("龙西", "回龙埔", "盛平", "尚景", "愉园", "黄阁坑", "爱联", "嶂背"),
    "longgang": ("龙岗", "南联", "龙东", "新生", "平南", "龙新", "同乐"),
    "baolong": ("宝龙", "龙新", "同乐", "南约", "龙东"),
    "pingdi": ("坪地", "六联", "坪西", "年丰", "中心", "高桥"),
}
MAJORS = (
    "工商管理",
    "行政管理",
    "会计学",
    "机械设计制造及其自动化",
    "电子信息工程",
    "计算机科学与技术",
    "人力资源管理",
    "物流管理",
    "法学",
    "电气工程及其自动化",
    "市场营销",
    "汉语言文学",
)
REQUEST_CATEGORIES = (
    "工资福利",
    "劳动保护",
    "食堂住宿",
    "工作时间",
    "技能培训",
    "文体活动",
    "其他",
)

# deliberate bad-row types (landing contract section 5)
BAD_TYPES = (
    "bad_id_check",
    "bad_credit_check",
    "bad_id_scientific",
    "bad_date_prev_year",
    "bad_date_next_year",
    "bad_negative_amount",
    "bad_nonnumeric_amount",
    "bad_unknown_category",
)

_DATE_CACHE: dict[int, date] = {}


def day(ordinal: int) -> date:
    """A shared ``date`` object (the roster holds millions of dates)."""
    d = _DATE_CACHE.get(ordinal)
    if d is None:
        d = _DATE_CACHE[ordinal] = date.fromordinal(ordinal)
    return d


def year_start(year: int) -> date:
    return date(year, 1, 1)


def year_end(year: int) -> date:
    return date(year, 12, 31)


def apportion(total: int, weights: list[float]) -> list[int]:
    """Largest-remainder split of ``total`` in proportion to ``weights`` (deterministic)."""
    if total <= 0 or not weights:
        return [0] * len(weights)
    s = float(sum(weights)) or 1.0
    raw = [total * w / s for w in weights]
    out = [int(x) for x in raw]
    order = sorted(range(len(weights)), key=lambda i: (-(raw[i] - out[i]), i))
    for i in order[: total - sum(out)]:
        out[i] += 1
    return out


def split_total(rng: random.Random, total: int, n: int, minimum: int = 1) -> list[int]:
    """``n`` random integers >= ``minimum`` that add up to ``total`` (needs total >= n*minimum)."""
    if n <= 0:
        return []
    rest = total - n * minimum
    if rest < 0:
        raise ValueError(f"cannot split {total} into {n} parts of at least {minimum}")
    weights = [rng.lognormvariate(0, 0.8) for _ in range(n)]
    return [minimum + x for x in apportion(rest, weights)]


def _scaled(value: int, scale: float) -> int:
    return round(value * scale)


class IdFactory:
    """Unique, valid identity numbers (GB 11643) with plausible region codes and birth dates."""

    def __init__(self, rng: random.Random, taken: set[str] | None = None):
        self.rng = rng
        self.taken: set[str] = taken if taken is not None else set()

    def new(self, gender: str | None = None) -> str:
        rnd = self.rng.random
        births, regions = _BIRTHS, _REGIONS
        while True:
            seq = int(rnd() * 1000)
            if gender == "男" and seq % 2 == 0:
                seq = (seq + 1) % 1000
            elif gender == "女" and seq % 2 == 1:
                seq -= 1
            first17 = (
                f"{regions[int(rnd() * len(regions))]}{births[int(rnd() * len(births))]}{seq:03d}"
            )
            value = first17 + id_check_char(first17)
            if value not in self.taken:
                self.taken.add(value)
                return value


def gender_of(id_number: str) -> str:
    return "男" if int(id_number[16]) % 2 else "女"


def corrupt_id(id_number: str) -> str:
    """The same identity number with a wrong check character."""
    chars = "0123456789X"
    good = id_number[17]
    return id_number[:17] + chars[(chars.index(good) + 3) % 11]


def corrupt_credit(code: str) -> str:
    good = code[17]
    return code[:17] + CREDIT_ALPHABET[(CREDIT_ALPHABET.index(good) + 7) % 31]


def make_name(rng: random.Random) -> str:
    rnd = rng.random
    name = _SURNAMES[int(rnd() * len(_SURNAMES))] + _GIVEN[int(rnd() * len(_GIVEN))]
    if rnd() < 0.7:
        name += _GIVEN[int(rnd() * len(_GIVEN))]
    return name


def make_phone(rng: random.Random) -> str:
    return f"1{'35789'[int(rng.random() * 5)]}{int(rng.random() * 10**9):09d}"


class CreditFactory:
    def __init__(self, rng: random.Random, taken: set[str] | None = None):
        self.rng = rng
        self.taken: set[str] = taken if taken is not None else set()

    def new(self) -> str:
        rng = self.rng
        while True:
            body = "".join(rng.choice(CREDIT_ALPHABET) for _ in range(8))
            first17 = f"91440300{rng.choice('0123456789MA')}{body}"[:17]
            code = first17 + credit_check_char(first17)
            if code not in self.taken:
                self.taken.add(code)
                return code


# ---------------------------------------------------------------------------------------------
# membership universe (enterprises and members), calibrated to 2021


class Member:
    """One row of a street's member roster (canonical). ``verified_on`` None = never verified."""

    __slots__ = (
        "collected_on",
        "employer",
        "gender",
        "id_number",
        "joined_on",
        "name",
        "phone",
        "raw",
        "verified_on",
    )

    def __init__(self, id_number, name, phone, employer, joined_on, collected_on, verified_on):
        self.id_number = id_number
        self.name = name
        self.gender = gender_of(id_number) if id_number[:17].isdigit() else "男"
        self.phone = phone
        self.employer = employer
        self.joined_on = joined_on
        self.collected_on = collected_on
        self.verified_on = verified_on
        self.raw: dict[str, str] | None = None

    def get(self, key, default=None):
        if key == "_raw":
            return self.raw
        if key == "employer_credit_code":
            return self.employer
        return getattr(self, key, default)

    def copy(self) -> Member:
        m = Member(
            self.id_number,
            self.name,
            self.phone,
            self.employer,
            self.joined_on,
            self.collected_on,
            self.verified_on,
        )
        m.gender = self.gender
        m.raw = self.raw
        return m


@dataclass
class Universe:
    enterprises: dict[str, list[dict]]  # street -> canonical enterprise rows (2021 truth)
    members: dict[str, list[Member]]  # street -> roster records (incl. cross-street duplicates)
    cross_dup_ids: set[str] = field(default_factory=set)


def build_universe(scale: float, seed: int, *, with_members: bool = True) -> Universe:
    """Enterprises and members of all streets (``with_members=False``: empty rosters)."""
    weights = [WEIGHTS[s] for s in STREET_CODES]
    rng = random.Random(f"{seed}|enterprises")
    credit = CreditFactory(rng)
    n100, n25 = _scaled(UNIVERSE["ent_100"], scale), _scaled(UNIVERSE["ent_25"], scale)
    nsmall = max(_scaled(UNIVERSE["ent_small"], scale), 2 * len(STREETS))
    n100 = max(n100, len(STREETS))
    n25 = max(n25, len(STREETS))
    u100 = min(n100, _scaled(UNIVERSE["ent_100_union"], scale))
    u25 = min(n25, _scaled(UNIVERSE["ent_25_union"], scale))
    council = _scaled(UNIVERSE["council"], scale)
    key = _scaled(UNIVERSE["key"], scale)

    # district-level slots, then dealt out to the streets by weight
    slots: list[dict] = []
    for i in range(n100):
        emp = 100 if i < 3 else int(min(12000, 100 + rng.paretovariate(1.3) * 60))
        slots.append({"employee_count": emp, "has_union": i < u100})
    for i in range(n25):
        emp = (25, 99)[i] if i < 2 else rng.randint(25, 99)
        slots.append({"employee_count": emp, "has_union": i < u25})
    for _ in range(nsmall):
        slots.append({"employee_count": rng.randint(3, 24), "has_union": rng.random() < 0.35})
    # council: mostly big unionised enterprises; key enterprises: big ones (union or not)
    big_union = [s for s in slots if s["employee_count"] >= 100 and s["has_union"]]
    mid_union = [s for s in slots if 25 <= s["employee_count"] < 100 and s["has_union"]]
    n_council_big = min(len(big_union), round(council * 0.8))
    for s in rng.sample(big_union, n_council_big):
        s["has_worker_council"] = True
    for s in rng.sample(mid_union, min(len(mid_union), council - n_council_big)):
        s["has_worker_council"] = True
    big = [s for s in slots if s["employee_count"] >= 100]
    for s in rng.sample(big, min(len(big), key)):
        s["is_key_enterprise"] = True
    rng.shuffle(slots)

    counts = apportion(len(slots), weights)
    used_names: set[str] = set()
    enterprises: dict[str, list[dict]] = {}
    pos = 0
    for code, n in zip(STREET_CODES, counts, strict=True):
        rows = []
        for s in slots[pos : pos + n]:
            founded = None
            if s["has_union"]:
                # ~6% of unions founded in 2021, the rest 2005..2020
                if rng.random() < 0.06:
                    founded = day(
                        rng.randint(date(2021, 1, 1).toordinal(), date(2021, 11, 30).toordinal())
                    )
                else:
                    founded = day(
                        rng.randint(date(2005, 1, 1).toordinal(), date(2020, 12, 31).toordinal())
                    )
            council_flag = bool(s.get("has_worker_council"))
            rows.append(
                {
                    "credit_code": credit.new(),
                    "enterprise_name": _enterprise_name(rng, code, used_names),
                    "community": rng.choice(COMMUNITIES[code]) + rng.choice(_COMMUNITY_TAILS),
                    "industry": rng.choice(_INDUSTRIES),
                    "employee_count": s["employee_count"],
                    "has_union": s["has_union"],
                    "union_founded_on": founded,
                    "has_worker_council": council_flag,
                    "is_key_enterprise": bool(s.get("is_key_enterprise")),
                    # hidden: the year the council started (2020 had fewer)
                    "_council_since": (2021 if rng.random() < 0.2 else 2019)
                    if council_flag
                    else None,
                }
            )
        enterprises[code] = rows
        pos += n
    if not with_members:
        return Universe(enterprises, {code: [] for code in STREET_CODES})
    members, dups = _build_members(scale, seed, enterprises)
    return Universe(enterprises, members, dups)


def _enterprise_name(rng: random.Random, street: str, used: set[str]) -> str:
    for _ in range(50):
        name = (
            "深圳市"
            + rng.choice(_NAME_WORDS)
            + rng.choice(_NAME_WORDS)[0]
            + rng.choice(_NAME_TAILS)
            + rng.choice(_NAME_FORMS)
        )
        if name not in used:
            break
    else:
        name = f"深圳市{STREET_SHORT[street]}{rng.randrange(10**6):06d}实业有限公司"
    used.add(name)
    return name


def _build_members(
    scale: float, seed: int, enterprises: dict[str, list[dict]]
) -> tuple[dict[str, list[Member]], set[str]]:
    rng = random.Random(f"{seed}|members")
    ids = IdFactory(rng)
    total = max(_scaled(UNIVERSE["members"], scale), 20 * len(STREETS))
    verified_total = min(total, _scaled(UNIVERSE["verified"], scale))
    counts = apportion(total, [WEIGHTS[s] for s in STREET_CODES])
    vcounts = apportion(verified_total, counts)
    year_weights = (
        (2016, 0.04),
        (2017, 0.06),
        (2018, 0.12),
        (2019, 0.22),
        (2020, 0.26),
        (2021, 0.30),
    )
    cum = []
    acc = 0.0
    for y, w in year_weights:
        acc += w
        cum.append((acc, date(y, 1, 1).toordinal(), date(y, 12, 31).toordinal()))
    v_lo = date(2020, 3, 1).toordinal()
    end21 = date(2021, 12, 31).toordinal()
    members: dict[str, list[Member]] = {}
    random_ = rng.random
    randint = rng.randint
    for code, n, nv in zip(STREET_CODES, counts, vcounts, strict=True):
        employers = [e["credit_code"] for e in enterprises[code] if e["employee_count"] >= 10]
        rows: list[Member] = []
        n_emp = len(employers)
        lo8 = date(2008, 1, 1).toordinal()
        for _ in range(n):
            r = random_()
            k = 0
            while k < len(cum) - 1 and r > cum[k][0]:
                k += 1
            _, lo, hi = cum[k]
            coll = lo + int(random_() * (hi - lo + 1))
            joined = day(max(coll - int(random_() * 1500), lo8)) if random_() < 0.95 else None
            rows.append(
                Member(
                    ids.new(),
                    make_name(rng),
                    make_phone(rng) if random_() < 0.92 else None,
                    employers[int(random_() * n_emp)] if n_emp and random_() < 0.85 else None,
                    joined,
                    day(coll),
                    None,
                )
            )
        for m in rng.sample(rows, nv):
            lo = max(m.collected_on.toordinal(), v_lo)
            m.verified_on = day(randint(lo, end21))
        members[code] = rows

    # cross-street duplicates: an earlier record of the same member in another street
    dups: set[str] = set()
    n_dups = _scaled(UNIVERSE["cross_dups"], scale)
    cutoff = date(2016, 6, 1)
    pool = [(code, m) for code in STREET_CODES for m in members[code] if m.collected_on > cutoff]
    first = date(2016, 1, 1).toordinal()
    extra: dict[str, list[Member]] = {code: [] for code in STREET_CODES}
    for code, m in rng.sample(pool, min(n_dups, len(pool))):
        other = rng.choice([c for c in STREET_CODES if c != code])
        coll = randint(first, m.collected_on.toordinal() - 1)
        verified_on = None
        if random_() < 0.45:
            verified_on = day(randint(max(coll, v_lo), end21))
        dup = Member(
            m.id_number,
            m.name,
            make_phone(rng) if random_() < 0.5 else m.phone,
            None,
            m.joined_on if m.joined_on and m.joined_on.toordinal() <= coll else None,
            day(coll),
            verified_on,
        )
        extra[other].append(dup)
        dups.add(m.id_number)
    for code in STREET_CODES:
        rows = members[code] + extra[code]
        rows.sort(key=lambda m: m.collected_on)
        members[code] = rows
    return members, dups


# ---------------------------------------------------------------------------------------------
# one reporting year


@dataclass
class YearData:
    year: int
    records: dict[str, dict[str, list]]  # kind -> street -> canonical records (all count)
    bad: dict[tuple[str, str], list] = field(default_factory=dict)  # (street, kind) -> bad rows


def enterprises_as_of(universe: Universe, year: int) -> dict[str, list[dict]]:
    end = year_end(year)
    out: dict[str, list[dict]] = {}
    for code, rows in universe.enterprises.items():
        snap = []
        for e in rows:
            if year >= 2021:
                snap.append(e)
                continue
            e2 = dict(e)
            if e2["has_union"] and e2["union_founded_on"] and e2["union_founded_on"] > end:
                e2["has_union"] = False
                e2["union_founded_on"] = None
            if e2["has_worker_council"] and (e2["_council_since"] or 0) > year:
                e2["has_worker_council"] = False
            snap.append(e2)
        out[code] = snap
    return out


def _targets(year: int, scale: float) -> dict[str, int]:
    if year in TARGETS:
        base = TARGETS[year]
    else:
        factor = 0.9 ** abs(2020 - year)
        base = {k: round(v * factor) for k, v in TARGETS[2020].items()}
    return {k: _scaled(v, scale) for k, v in base.items()}


def _random_day(rng: random.Random, year: int, lo: date | None = None) -> date:
    a = (lo or year_start(year)).toordinal()
    return day(rng.randint(a, year_end(year).toordinal()))


def _deal(rng: random.Random, slots: list, minimum: int = 2) -> dict[str, list]:
    """Shuffle district-level ``slots`` and deal them to the streets by weight."""
    rng.shuffle(slots)
    counts = apportion(len(slots), [WEIGHTS[s] for s in STREET_CODES])
    out, pos = {}, 0
    for code, n in zip(STREET_CODES, counts, strict=True):
        out[code] = slots[pos : pos + n]
        pos += n
    return out


def build_year(universe: Universe, year: int, scale: float, seed: int) -> YearData:
    t = _targets(year, scale)
    n_streets = len(STREETS)
    records: dict[str, dict[str, list]] = {}
    ents = enterprises_as_of(universe, year)
    records["enterprise_register"] = ents
    records["member_roster"] = universe.members
    end = year_end(year)

    # --- dispute cases
    rng = random.Random(f"{seed}|disputes|{year}")
    n = max(t["disputes"], 2 * n_streets)
    mass = min(t["mass"], n)
    slots = [{"_mass": i < mass} for i in range(n)]
    by_street = _deal(rng, slots)
    all_cases = []
    for code in STREET_CODES:
        prefix = STREET_PREFIX[code]
        rows = by_street[code]
        pool = ents[code]
        dated = sorted(_random_day(rng, year) for _ in rows)
        for i, (row, accepted) in enumerate(zip(rows, dated, strict=True)):
            e = rng.choice(pool)
            outcome = "调解成功" if i == 0 else rng.choices(OUTCOMES, (80, 8, 3, 4, 5))[0]
            closed = None
            if outcome != "处理中":
                closed = day(min(accepted.toordinal() + rng.randint(2, 75), end.toordinal()))
            row.update(
                {
                    "case_no": f"{prefix}LZ{year}{i + 1:04d}",
                    "accepted_on": accepted,
                    "enterprise_name": e["enterprise_name"],
                    "credit_code": e["credit_code"] if rng.random() < 0.9 else None,
                    "workers_involved": rng.randint(30, 260)
                    if row["_mass"]
                    else rng.randint(1, 29),
                    "dispute_type": rng.choices(DISPUTE_TYPES, (40, 15, 20, 10, 8, 7))[0],
                    "outcome": outcome,
                    "closed_on": closed,
                    "recovered_amount": 0,
                }
            )
            all_cases.append(row)
    paying = [r for r in all_cases if r["outcome"] == "调解成功"]
    for r, cents in zip(
        paying, split_total(rng, t["recovered_cents"], len(paying), 0), strict=True
    ):
        r["recovered_amount"] = cents
    records["dispute_cases"] = by_street

    # --- worker requests (raised in enterprises with a worker council where possible)
    rng = random.Random(f"{seed}|requests|{year}")
    n = max(t["requests"], 2 * n_streets)
    handled = min(t["handled"], n)
    internal = min(t["internal"], handled)
    slots = []
    for i in range(n):
        if i < internal:
            slots.append({"status": "已办结", "resolved_level": "企业内部"})
        elif i < handled:
            slots.append({"status": "已办结", "resolved_level": rng.choice(LEVELS[1:])})
        else:
            slots.append({"status": rng.choice(REQUEST_STATUS[1:]), "resolved_level": None})
    by_street = _deal(rng, slots)
    for code in STREET_CODES:
        prefix = STREET_PREFIX[code]
        pool = [e for e in ents[code] if e["has_worker_council"]] or ents[code]
        rows = by_street[code]
        dated = sorted(_random_day(rng, year) for _ in rows)
        for i, (row, raised) in enumerate(zip(rows, dated, strict=True)):
            done = None
            if row["status"] == "已办结":
                done = day(min(raised.toordinal() + rng.randint(1, 40), end.toordinal()))
            row.update(
                {
                    "request_no": f"{prefix}-SQ-{year}-{i + 1:05d}",
                    "credit_code": rng.choice(pool)["credit_code"],
                    "raised_on": raised,
                    "category": rng.choice(REQUEST_CATEGORIES),
                    "_done_on": done,
                }
            )
    records["worker_requests"] = by_street

    # --- worker activities
    rng = random.Random(f"{seed}|activities|{year}")
    cats = [
        ("党史学习教育", t["party"], t["party_pt"]),
        ("关爱慰问", t["care_ev"], t["care_pt"]),
        ("心理健康", t["psych"], t["psych_pt"]),
        ("技能培训", t["skills_ev"], t["skills_pt"]),
        ("综合素质培训", t["general_ev"], t["general_pt"]),
    ]
    n = max(t["events"], sum(c[1] for c in cats) + 2 * n_streets)
    other_ev = n - sum(c[1] for c in cats)
    other_pt = max(t["person_times"] - sum(c[2] for c in cats), other_ev)
    cats.append(("职工活动", other_ev, other_pt))
    slots = []
    for cat, count, pt in cats:
        parts = split_total(rng, max(pt, count), count, 1)
        slots.extend({"category": cat, "participants": p} for p in parts)
    by_street = _deal(rng, slots)
    # projects: each street names its own; the district total is fixed
    training = {
        c: [r for r in by_street[c] if r["category"] in ("技能培训", "综合素质培训")]
        for c in STREET_CODES
    }
    n_proj = t["projects"]
    has_training = [c for c in STREET_CODES if training[c]]
    alloc = dict.fromkeys(STREET_CODES, 0)
    if has_training:
        n_proj = max(n_proj, len(has_training))
        base = apportion(n_proj - len(has_training), [len(training[c]) - 1 for c in has_training])
        for c, extra in zip(has_training, base, strict=True):
            alloc[c] = min(1 + extra, len(training[c]))
        # fix rounding if a street could not take its share
        short = n_proj - sum(alloc.values())
        for c in sorted(has_training, key=lambda c: -len(training[c])):
            while short > 0 and alloc[c] < len(training[c]):
                alloc[c] += 1
                short -= 1
    for code in STREET_CODES:
        prefix = STREET_PREFIX[code]
        short = STREET_SHORT[code]
        projects = [f"{short}{_PROJECT_NAMES[k % len(_PROJECT_NAMES)]}" for k in range(alloc[code])]
        projects = [
            p if k < len(_PROJECT_NAMES) else f"{p}（{k // len(_PROJECT_NAMES) + 1}期）"
            for k, p in enumerate(projects)
        ]
        tr = training[code]
        rng.shuffle(tr)
        for k, r in enumerate(tr):
            r["project"] = projects[k] if k < len(projects) else rng.choice(projects)
        rows = by_street[code]
        dated = sorted(_random_day(rng, year) for _ in rows)
        rng.shuffle(rows)
        for i, (row, held) in enumerate(zip(rows, dated, strict=True)):
            cat = row["category"]
            if cat not in ("技能培训", "综合素质培训"):
                # a project name on a non-training row must not count as a quality project
                row["project"] = (
                    f"{short}职工文体季" if cat == "职工活动" and rng.random() < 0.1 else None
                )
            row.update(
                {
                    "activity_no": f"{prefix}HD{year}{i + 1:04d}",
                    "title": _activity_title(rng, short, cat, row.get("project")),
                    "held_on": held,
                }
            )
    records["worker_activities"] = by_street

    # --- dream program: registrants of enterprises of the same street
    rng = random.Random(f"{seed}|dream|{year}")
    ids = IdFactory(rng)
    n = max(t["dream"], 2 * n_streets)
    n_ent = max(min(t["dream_ent"], n), n_streets)
    ent_counts = apportion(n_ent - n_streets, [WEIGHTS[s] for s in STREET_CODES])
    reg_counts = apportion(n - n_streets, [WEIGHTS[s] for s in STREET_CODES])
    dream: dict[str, list] = {}
    for code, ne, nr in zip(STREET_CODES, ent_counts, reg_counts, strict=True):
        ne, nr = ne + 1, nr + 1
        if ne > nr:
            ne = nr
        pool = [e for e in ents[code] if e["employee_count"] >= 25] or ents[code]
        chosen = [e["credit_code"] for e in rng.sample(pool, min(ne, len(pool)))]
        employers = chosen + [rng.choice(chosen) for _ in range(nr - len(chosen))]
        rows = []
        for emp in employers:
            idn = ids.new()
            rows.append(
                {
                    "name": make_name(rng),
                    "id_number": idn,
                    "employer_credit_code": emp,
                    "registered_on": _random_day(rng, year),
                    "major": rng.choice(MAJORS),
                }
            )
        rows.sort(key=lambda r: r["registered_on"])
        dream[code] = rows
    records["dream_program"] = dream

    # --- hardship assistance (mostly whole hundreds of yuan; the odd cents on one payment)
    rng = random.Random(f"{seed}|hardship|{year}")
    ids = IdFactory(rng)
    n = max(t["hardship"], 2 * n_streets)
    total_cents = max(t["hardship_cents"], n * 50000)
    odd = total_cents % 10000
    hundreds = split_total(rng, total_cents // 10000, n, 3)
    slots = [{"amount": h * 10000} for h in hundreds]
    slots[0]["amount"] += odd
    by_street = _deal(rng, slots)
    for code in STREET_CODES:
        prefix = STREET_PREFIX[code]
        rows = by_street[code]
        dated = sorted(_random_day(rng, year) for _ in rows)
        for i, (row, paid) in enumerate(zip(rows, dated, strict=True)):
            row.update(
                {
                    "payment_no": f"{prefix}BF{year}-{i + 1:03d}",
                    "paid_on": paid,
                    "aid_type": rng.choices(AID_TYPES, (30, 35, 20, 10, 5))[0],
                    "name": make_name(rng),
                    "id_number": ids.new(),
                }
            )
    records["hardship_assistance"] = by_street

    # --- care services
    rng = random.Random(f"{seed}|care|{year}")
    slots = []
    n_inj = max(t["injury_services"], n_streets)
    for p in split_total(rng, max(t["injury_persons"], n_inj), n_inj, 1):
        slots.append({"service_type": "工伤探视", "persons": p})
    for st, key in (
        ("心理咨询疏导", "counseling"),
        ("工伤法律咨询", "legal"),
        ("转介驻点律师", "lawyer"),
    ):
        for _ in range(t[key]):
            slots.append({"service_type": st, "persons": rng.choice((1, 1, 1, 2, 3))})
    by_street = _deal(rng, slots)
    for code in STREET_CODES:
        prefix = STREET_PREFIX[code]
        rows = by_street[code]
        dated = sorted(_random_day(rng, year) for _ in rows)
        for i, (row, served) in enumerate(zip(rows, dated, strict=True)):
            row.update({"service_no": f"{prefix}FW{year}{i + 1:04d}", "served_on": served})
    records["care_services"] = by_street
    return YearData(year, records)


_PROJECT_NAMES = (
    "“技能提升”职工培训计划",
    "职工学历提升项目",
    "“匠心”技能竞赛项目",
    "职工素质大讲堂",
    "新就业形态劳动者技能培训",
    "电工上岗证培训班",
    "职工心理与沟通能力提升项目",
    "“妈妈小屋”育婴技能培训",
    "智能制造技能培训",
    "职工法律知识课堂",
    "办公软件技能培训班",
    "职工安全生产培训项目",
)


def _activity_title(rng: random.Random, short: str, cat: str, project: str | None) -> str:
    if cat in ("技能培训", "综合素质培训") and project:
        return f"{project}第{rng.randint(1, 9)}期"
    names = {
        "职工活动": (
            "职工篮球赛",
            "职工文艺汇演",
            "中秋游园会",
            "职工趣味运动会",
            "读书分享会",
            "青年职工联谊会",
        ),
        "关爱慰问": (
            "“送清凉”关爱一线职工",
            "春节慰问来深建设者",
            "“夏送清凉”走访慰问",
            "关爱户外劳动者",
        ),
        "心理健康": ("职工心理健康讲座", "EAP心理减压沙龙", "心理健康进企业", "团体心理辅导"),
        "党史学习教育": ("党史学习教育专题讲座", "“学党史、跟党走”主题活动", "红色观影活动"),
    }[cat]
    return f"{short}{rng.choice(names)}"


# ---------------------------------------------------------------------------------------------
# expected figures


def expected_indicators(year_data: YearData) -> dict:
    """District and street figures the pipeline must produce from this year's files."""
    year = year_data.year
    end = year_end(year)
    rec = year_data.records
    by_street: dict[str, dict[str, object]] = {c: {} for c in STREET_CODES}
    district: dict[str, object] = {}

    def ratio(num: int, den: int) -> dict:
        return {
            "numerator": num,
            "denominator": den,
            "value": round(100 * num / den, 1) if den else None,
        }

    tot = dict.fromkeys(("n100", "u100", "n25", "u25", "council", "key"), 0)
    for code in STREET_CODES:
        s = dict.fromkeys(tot, 0)
        for e in rec["enterprise_register"][code]:
            emp = e["employee_count"]
            if emp >= 100:
                s["n100"] += 1
                s["u100"] += e["has_union"]
            elif emp >= 25:
                s["n25"] += 1
                s["u25"] += e["has_union"]
            s["council"] += e["has_worker_council"]
            s["key"] += e["is_key_enterprise"]
        for k in tot:
            tot[k] += s[k]
        by_street[code].update(
            union_rate_100plus=ratio(s["u100"], s["n100"]),
            union_rate_25_99=ratio(s["u25"], s["n25"]),
            worker_council_enterprises=s["council"],
            key_enterprises=s["key"],
        )
    district.update(
        union_rate_100plus=ratio(tot["u100"], tot["n100"]),
        union_rate_25_99=ratio(tot["u25"], tot["n25"]),
        worker_council_enterprises=tot["council"],
        key_enterprises=tot["key"],
    )

    latest: dict[str, tuple[date, str, Member]] = {}
    for code in STREET_CODES:
        for m in rec["member_roster"][code]:
            if m.collected_on > end:
                continue
            cur = latest.get(m.id_number)
            if cur is None or m.collected_on > cur[0]:
                latest[m.id_number] = (m.collected_on, code, m)
    mr = dict.fromkeys(STREET_CODES, 0)
    mv = dict.fromkeys(STREET_CODES, 0)
    for _, code, m in latest.values():
        mr[code] += 1
        if m.verified_on is not None and m.verified_on <= end:
            mv[code] += 1
    for code in STREET_CODES:
        by_street[code].update(member_records=mr[code], members_verified=mv[code])
    district.update(member_records=sum(mr.values()), members_verified=sum(mv.values()))

    def in_year(d: date | None) -> bool:
        return d is not None and d.year == year

    sums: dict[str, float] = {}

    def add(code: str, key: str, value) -> None:
        by_street[code][key] = by_street[code].get(key, 0) + value
        sums[key] = sums.get(key, 0) + value

    ratio_parts = dict.fromkeys(STREET_CODES, (0, 0))
    for code in STREET_CODES:
        for k in (
            "disputes_mediated",
            "disputes_recovered_yuan",
            "mass_disputes_30plus",
            "requests_collected",
            "requests_handled",
            "worker_events",
            "worker_event_person_times",
            "party_history_sessions",
            "care_events",
            "care_person_times",
            "psych_events",
            "psych_person_times",
            "skills_training_person_times",
            "general_training_person_times",
            "dream_registrants",
            "hardship_aid_person_times",
            "injury_visit_persons",
            "counseling_sessions",
            "legal_consultations",
            "lawyer_referrals",
        ):
            add(code, k, 0)
        cents = 0
        for r in rec["dispute_cases"][code]:
            if in_year(r["accepted_on"]):
                add(code, "disputes_mediated", 1)
                cents += r["recovered_amount"]
                add(code, "mass_disputes_30plus", int(r["workers_involved"] >= 30))
        by_street[code]["disputes_recovered_yuan"] = cents / 100
        sums["disputes_recovered_yuan"] = sums.get("disputes_recovered_yuan", 0) + cents
        internal = 0
        for r in rec["worker_requests"][code]:
            if in_year(r["raised_on"]):
                add(code, "requests_collected", 1)
                add(code, "requests_handled", int(r["status"] == "已办结"))
                internal += int(r["status"] == "已办结" and r["resolved_level"] == "企业内部")
        ratio_parts[code] = (internal, by_street[code]["requests_collected"])
        by_street[code]["requests_internal_rate"] = ratio(*ratio_parts[code])
        projects = set()
        for r in rec["worker_activities"][code]:
            if not in_year(r["held_on"]):
                continue
            cat, p = r["category"], r["participants"]
            add(code, "worker_events", 1)
            add(code, "worker_event_person_times", p)
            if cat == "党史学习教育":
                add(code, "party_history_sessions", 1)
            elif cat == "关爱慰问":
                add(code, "care_events", 1)
                add(code, "care_person_times", p)
            elif cat == "心理健康":
                add(code, "psych_events", 1)
                add(code, "psych_person_times", p)
            elif cat == "技能培训":
                add(code, "skills_training_person_times", p)
                projects.add(r["project"])
            elif cat == "综合素质培训":
                add(code, "general_training_person_times", p)
                projects.add(r["project"])
        by_street[code]["quality_projects"] = len(projects)
        sums["quality_projects"] = sums.get("quality_projects", 0) + len(projects)
        regs = [r for r in rec["dream_program"][code] if in_year(r["registered_on"])]
        add(code, "dream_registrants", len({r["id_number"] for r in regs}))
        ents = {r["employer_credit_code"] for r in regs}
        by_street[code]["dream_enterprises"] = len(ents)
        sums["dream_enterprises"] = sums.get("dream_enterprises", 0) + len(ents)
        cents = 0
        for r in rec["hardship_assistance"][code]:
            if in_year(r["paid_on"]):
                add(code, "hardship_aid_person_times", 1)
                cents += r["amount"]
        by_street[code]["hardship_aid_yuan"] = cents / 100
        sums["hardship_aid_yuan"] = sums.get("hardship_aid_yuan", 0) + cents
        for r in rec["care_services"][code]:
            if not in_year(r["served_on"]):
                continue
            st = r["service_type"]
            if st == "工伤探视":
                add(code, "injury_visit_persons", r["persons"])
            elif st == "心理咨询疏导":
                add(code, "counseling_sessions", 1)
            elif st == "工伤法律咨询":
                add(code, "legal_consultations", 1)
            elif st == "转介驻点律师":
                add(code, "lawyer_referrals", 1)
    for k, v in sums.items():
        district[k] = v / 100 if k in ("disputes_recovered_yuan", "hardship_aid_yuan") else v
    internal = sum(p[0] for p in ratio_parts.values())
    district["requests_internal_rate"] = ratio(internal, district["requests_collected"])
    district = {k: district[k] for k in INDICATORS}
    by_street = {c: {k: v[k] for k in INDICATORS} for c, v in by_street.items()}
    return {"district": district, "by_street": by_street}

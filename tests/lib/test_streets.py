"""Streets are named by code or by name wherever a street is accepted (``lib/streets.py``)."""

from __future__ import annotations

import pytest

from orchestration.lib import streets as st


def test_the_shipped_list_has_eleven_streets_with_names():
    streets = st.load_streets()
    assert len(streets) == 11
    buji = next(s for s in streets if s.code == "buji")
    assert (buji.name_zh, buji.short_zh, buji.name_en) == ("布吉街道", "布吉", "Buji")


@pytest.mark.parametrize("text", ["buji", "布吉", "布吉街道", "Buji", "BUJI", " 布吉 "])
def test_a_street_by_code_or_name(text):
    assert st.resolve_street(text) == "buji"


def test_district_passes_through():
    assert st.resolve_street("district") == "district"
    assert st.resolve_street("全区", allow_district=True) == "district"
    with pytest.raises(st.UnknownStreetError):
        st.resolve_street("district", allow_district=False)


def test_an_unknown_street_names_the_choices():
    with pytest.raises(st.UnknownStreetError) as err:
        st.resolve_street("布吉镇")
    message = str(err.value)
    assert "'布吉镇'" in message and "buji (布吉)" in message and "pingdi (坪地)" in message


def test_streets_from_another_list():
    other = [st.Street("xixiang", "西乡街道", "西乡", "Xixiang")]
    assert st.resolve_street("西乡", other) == "xixiang"
    with pytest.raises(st.UnknownStreetError):
        st.resolve_street("buji", other)


# ------------------------------------------------------------------ the streets file (config)

HEADER = "street_code,name_zh,short_zh,name_en\n"


def _write(tmp_path, text: str):
    path = tmp_path / "streets.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_list_names_the_district_and_is_the_default(monkeypatch):
    monkeypatch.delenv("GONGHUI_STREETS", raising=False)
    listed = st.read_streets_file()
    assert listed.path.name == "streets.csv" and listed.path.parent.name == "mapping"
    assert listed.codes[0] == "pinghu" and listed.codes[-1] == "pingdi"
    assert "district" not in listed.codes
    assert listed.district is not None and listed.district.name_zh == "龙岗区"
    assert st.resolve_street("龙岗区") == "district"


def test_gonghui_streets_points_everything_at_another_list(tmp_path, monkeypatch):
    path = _write(
        tmp_path,
        HEADER + "district,东湖区,东湖区,Donghu\nbeta,北街街道,北街,Beta\nalpha,安平街道,,\n",
    )
    monkeypatch.setenv("GONGHUI_STREETS", str(path))
    assert st.streets_file() == path.resolve()
    assert st.load_street_codes() == ["beta", "alpha"]  # the file's order
    alpha = st.load_streets()[1]
    assert (alpha.short_zh, alpha.name_en) == ("安平街道", "")  # short name defaults to name_zh
    assert st.district_name() == "东湖区"
    assert st.resolve_street("北街") == "beta"
    assert st.resolve_street("东湖区") == "district"
    with pytest.raises(st.UnknownStreetError):
        st.resolve_street("buji")


@pytest.mark.parametrize(
    ("text", "row", "reason"),
    [
        (HEADER + "alpha,安平街道,安平,\nalpha,北街街道,北街,\n", 3, "already the code of row 2"),
        (HEADER + "alpha,安平街道,安平,\n\nbeta,,北街,\n", 4, "has no Chinese name"),
        (HEADER + "Bu Ji,布吉街道,布吉,\n", 2, "'Bu Ji' is not a safe identifier"),
        (HEADER + "alpha,安平街道,安平,\nx';drop,北街街道,北街,\n", 3, "not a safe identifier"),
        (HEADER + "1st,一街道,一,\n", 2, "not a safe identifier"),
        (HEADER + ",安平街道,安平,\n", 2, "'' is not a safe identifier"),
        (HEADER + "alpha,安平街道,安平,\nbeta,北街街道,安平,\n", 3, "already a name of 'alpha'"),
        (HEADER + "alpha,安平街道,安平,,extra\n", 2, "5 cells, the header has 4"),
        ("code,name_zh\nalpha,安平街道\n", 1, "missing column(s) ['street_code']"),
        ("street_code,name_zh,nmae_en\nalpha,安平街道,A\n", 1, "unknown column(s) ['nmae_en']"),
    ],
)
def test_a_bad_streets_file_is_an_error_naming_file_row_and_reason(tmp_path, text, row, reason):
    path = _write(tmp_path, text)
    with pytest.raises(st.StreetsFileError) as err:
        st.read_streets_file(path)
    message = str(err.value)
    assert str(path) in message
    assert f"row {row}" in message
    assert reason in message


@pytest.mark.parametrize("text", ["", HEADER, HEADER + "district,东湖区,东湖区,\n"])
def test_a_streets_file_without_streets_is_an_error(tmp_path, text):
    path = _write(tmp_path, text)
    with pytest.raises(st.StreetsFileError, match=str(path)):
        st.read_streets_file(path)


def test_a_missing_streets_file_is_an_error_naming_the_setting(tmp_path):
    with pytest.raises(st.StreetsFileError, match="GONGHUI_STREETS") as err:
        st.read_streets_file(tmp_path / "nowhere.csv")
    assert "nowhere.csv" in str(err.value)


def test_raw_streets_holds_the_configured_list_in_its_order(tmp_path, monkeypatch):
    import duckdb

    path = _write(tmp_path, HEADER + "gamma,丙街道,丙,Gamma\nalpha,甲街道,甲,Alpha\n")
    monkeypatch.setenv("GONGHUI_STREETS", str(path))
    con = duckdb.connect()
    st.write_streets_table(con)
    st.write_streets_table(con)  # replaced, never appended
    rows = con.execute("select * from raw.streets order by sort_order").fetchall()
    assert rows == [("gamma", "丙街道", "丙", "Gamma", 1), ("alpha", "甲街道", "甲", "Alpha", 2)]

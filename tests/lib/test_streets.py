"""Streets are named by code or by name wherever a street is accepted (``lib/streets.py``)."""

from __future__ import annotations

import pytest

from orchestration.lib import streets as st


def test_the_seed_lists_eleven_streets_with_names():
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

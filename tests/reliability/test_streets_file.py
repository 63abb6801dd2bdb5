"""A broken streets list (``GONGHUI_STREETS``) stops a command with the file, row and reason,
never a traceback, and before anything is read or written."""

from __future__ import annotations

import pytest

from orchestration.cli import main


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("street_code,name_zh\nalpha,甲街道\nalpha,乙街道\n", "row 3: street code 'alpha' is"),
        ("street_code,name_zh\nalpha,\n", "row 2: street 'alpha' has no Chinese name"),
        ("street_code,name_zh\n../etc,甲街道\n", "row 2: street code '../etc' is not a safe"),
    ],
)
def test_gonghui_run_with_a_broken_streets_file(tmp_path, monkeypatch, capsys, text, reason):
    streets = tmp_path / "streets.csv"
    streets.write_text(text, encoding="utf-8")
    (tmp_path / "raw" / "2021" / "alpha").mkdir(parents=True)
    (tmp_path / "raw" / "2021" / "alpha" / "纠纷.csv").write_text("案件编号\n", encoding="utf-8")
    monkeypatch.setenv("GONGHUI_RAW_DIR", str(tmp_path / "raw"))
    monkeypatch.setenv("GONGHUI_WAREHOUSE_DIR", str(tmp_path / "warehouse"))
    monkeypatch.setenv("GONGHUI_STREETS", str(streets))
    assert main(["run"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: streets file {streets}")
    assert reason in err
    assert "Traceback" not in err
    assert not (tmp_path / "warehouse" / "gonghui.duckdb").exists()


def test_a_missing_streets_file_names_the_setting(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GONGHUI_STREETS", str(tmp_path / "nowhere.csv"))
    (tmp_path / "raw" / "2021" / "alpha").mkdir(parents=True)
    (tmp_path / "raw" / "2021" / "alpha" / "纠纷.csv").write_text("案件编号\n", encoding="utf-8")
    monkeypatch.setenv("GONGHUI_RAW_DIR", str(tmp_path / "raw"))
    monkeypatch.setenv("GONGHUI_WAREHOUSE_DIR", str(tmp_path / "warehouse"))
    assert main(["run"]) == 2
    err = capsys.readouterr().err
    assert "nowhere.csv" in err and "GONGHUI_STREETS" in err

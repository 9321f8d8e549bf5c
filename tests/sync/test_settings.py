"""The settings file holding the server URL and token: written so that it always reads back."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fieldkit.config import ConfigError, Settings, load_settings, save_settings


def test_any_text_round_trips_through_the_settings_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [n for n in os.environ if n.startswith("FIELDKIT_")]:
        monkeypatch.delenv(name)  # only the file's values, not the test runner's
    path = tmp_path / "config.toml"
    settings = Settings(
        language="en",
        technician_id="T007",
        technician_name='张 "小三"\\备用\n第二行\t\x01',
        server_url="https://office.example:8443/",
        token="fk_abc_DEF-ghi",
        data_dir=tmp_path / "数据",
        keymap={"visit.answer_yes": "f7", 'odd "id"': "ctrl+y"},
    )
    assert save_settings(settings, path) == path
    assert load_settings(path) == settings
    assert not path.with_suffix(".toml.tmp").exists()


def test_a_broken_settings_file_names_itself(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('technician_name = "unterminated\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"config\.toml"):
        load_settings(path)

"""One settings loader (pydantic-settings): file → FIELDKIT_* → options, errors naming the source."""

from __future__ import annotations

from pathlib import Path

import pytest

from fieldkit import i18n
from fieldkit.config import ConfigError, Settings, file_settings, load_settings, save_settings
from fieldkit.configfile import peek_language
from tests.cli.helpers import run_fieldkit


@pytest.fixture
def config(isolated_home: Path) -> Path:
    path = isolated_home / "config" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(autouse=True)
def english() -> object:
    i18n.set_language("en")
    yield
    i18n.set_language("zh")


def test_layers_file_then_environment_then_options(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config.write_text('language = "en"\ntechnician_id = "T-file"\nserver_url = "https://f"\n')
    assert load_settings().technician_id == "T-file"
    monkeypatch.setenv("FIELDKIT_TECHNICIAN_ID", "T-env")
    monkeypatch.setenv("FIELDKIT_INSECURE", "true")
    settings = load_settings()
    assert (settings.technician_id, settings.insecure, settings.language) == ("T-env", True, "en")
    settings = load_settings(technician_id="T-flag", language="zh", server_url=None)
    assert (settings.technician_id, settings.language) == ("T-flag", "zh")
    assert settings.server_url == "https://f"  # a None option does not hide the file's value


def test_short_environment_aliases(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIELDKIT_LANG", "en")
    monkeypatch.setenv("FIELDKIT_TECHNICIAN", "T9")
    settings = load_settings()
    assert (settings.language, settings.technician_id) == ("en", "T9")
    monkeypatch.setenv("FIELDKIT_LANGUAGE", "zh")  # the full name wins over the alias
    assert load_settings().language == "zh"


def test_a_bad_environment_value_names_the_variable_not_a_missing_file(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert not config.exists()
    monkeypatch.setenv("FIELDKIT_LANGUAGE", "fr")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert "FIELDKIT_LANGUAGE=fr" in message
    assert "zh, en" in message
    assert "config.toml" not in message


def test_a_bad_file_value_names_the_file_and_line(config: Path) -> None:
    config.write_text('# mine\nlanguage = "en"\n\ninsecure = "maybe"\n', encoding="utf-8")
    with pytest.raises(
        ConfigError, match=r"config\.toml, line 4: setting 'insecure': must be true"
    ):
        load_settings()
    config.write_text('language = "en"\ntechnician_id = \n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"config\.toml, line 2, column \d+: not valid TOML"):
        load_settings()
    config.write_text('langauge = "en"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"line 1: setting 'langauge': unknown field"):
        load_settings()


def test_errors_in_chinese(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    i18n.set_language("zh")
    monkeypatch.setenv("FIELDKIT_INSECURE", "maybe")
    with pytest.raises(
        ConfigError, match="环境变量 FIELDKIT_INSECURE=maybe：设置项 insecure：必须是"
    ):
        load_settings()


def test_saving_keeps_the_users_comments_and_removes_defaults(config: Path) -> None:
    config.write_text(
        "# laptop of team 3\n"
        'language = "en"  # for the trainee\n'
        'server_url = "https://old"\n'
        "\n"
        "[keymap]\n"
        "# gloves: bigger keys\n"
        '"app.sync" = "f8"\n',
        encoding="utf-8",
    )
    settings = load_settings().model_copy(
        update={"language": "zh", "technician_id": "T1", "keymap": {"app.sync": "f7"}}
    )
    save_settings(settings, config)
    text = config.read_text(encoding="utf-8")
    assert "# laptop of team 3" in text
    assert "# gloves: bigger keys" in text
    assert "language" not in text  # back at its default
    assert 'technician_id = "T1"' in text
    assert '"app.sync" = "f7"' in text
    assert load_settings() == settings
    assert file_settings(config)["technician_id"] == "T1"


def test_the_form_reader_sees_the_file_only(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config.write_text('technician_id = "T-file"\n', encoding="utf-8")
    monkeypatch.setenv("FIELDKIT_TECHNICIAN_ID", "T-env")
    assert file_settings() == {"technician_id": "T-file"}
    config.write_text("technician_id = [\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"config\.toml, line 1, column \d+"):
        file_settings()


def test_peek_language_never_raises(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config.write_text("broken = [\n", encoding="utf-8")
    assert peek_language() == "zh"
    config.write_text('language = "en"\n', encoding="utf-8")
    assert peek_language() == "en"
    monkeypatch.setenv("FIELDKIT_LANGUAGE", "fr")
    assert peek_language() == "zh"


def test_settings_is_still_a_plain_model() -> None:
    settings = Settings(language="en", db_url="sqlite:///x.db")
    assert settings.resolved_db_url() == "sqlite:///x.db"
    assert not settings.is_default_db()
    with pytest.raises(ValueError):
        settings.language = "fr"  # type: ignore[assignment]


def test_lookups_refuse_a_bad_language_variable_and_a_broken_file(config: Path) -> None:
    done = run_fieldkit("code", "ERR-1", env={"FIELDKIT_LANGUAGE": "fr"})
    assert done.returncode == 2
    assert "FIELDKIT_LANGUAGE=fr" in done.stderr
    assert "Traceback" not in done.stderr
    config.write_text('language = "en"\ntechnician_id = "unterminated\n', encoding="utf-8")
    done = run_fieldkit("code", "ERR-1")
    assert done.returncode == 2
    assert f"{config} 第 2 行" in done.stderr  # the file is broken: the default language
    assert "Traceback" not in done.stderr
    config.write_text('language = "en"\n', encoding="utf-8")
    done = run_fieldkit("code", "ERR-1")
    assert done.returncode == 0, done.stderr
    assert "Causes" in done.stdout or "Cause" in done.stdout

"""Settings: one object, env and file sources, and typos that fail loudly."""

from __future__ import annotations

from pathlib import Path
from typing import get_args

import pytest

from core.errors import ConfigError
from core.kafka import processor
from core.settings import KafkaConfig, ScorerConfig, load_settings
from core.settings_defaults import DELIVERIES, SCORER_DELIVERY
from tests.unit.test_cli_startup import HEAVY, python


def test_env_vars_set_nested_sections(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMSCORE_SCORER__BATCH_SIZE", "123")
    monkeypatch.setenv("STREAMSCORE_KAFKA__CLIENT", '{"security.protocol": "SSL"}')
    settings = load_settings()
    assert settings.scorer.batch_size == 123
    assert settings.kafka.client == {"security.protocol": "SSL"}


def test_a_toml_file_is_read_and_env_vars_win_over_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "s.toml"
    path.write_text('[scorer]\nbatch_size = 7\ngroup_id = "g"\n[topics]\nevents = "in"\n')
    monkeypatch.setenv("STREAMSCORE_SCORER__BATCH_SIZE", "9")
    settings = load_settings(path)
    assert (settings.scorer.batch_size, settings.scorer.group_id) == (9, "g")
    assert settings.topics.events == "in"


@pytest.mark.parametrize(
    "name", ["STREAMSCORE_SCORERR__BATCH_SIZE", "STREAMSCORE_SCORER__BATCH_SISE", "STREAMSCORE_X"]
)
def test_an_unknown_env_setting_is_an_error_naming_it(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(name, "1")
    with pytest.raises(ConfigError, match=name):
        load_settings()


def test_an_unknown_file_key_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text("[scorer]\nbatch_sise = 7\n")
    with pytest.raises(ConfigError, match=r"scorer\.batch_sise"):
        load_settings(path)


def test_an_invalid_value_is_an_error_naming_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMSCORE_SCORER__DELIVERY", "twice")
    with pytest.raises(ConfigError, match=r"scorer\.delivery"):
        load_settings()


def test_a_missing_settings_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml")


def test_secret_client_options_are_masked_for_logs() -> None:
    kafka = KafkaConfig(client={"sasl.password": "hunter2", "security.protocol": "SASL_SSL"})
    assert kafka.redacted_client() == {"sasl.password": "***", "security.protocol": "SASL_SSL"}


def test_a_renamed_setting_names_its_new_place(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMSCORE_SCORER__MODEL_POLL_S", "1")
    with pytest.raises(ConfigError, match="STREAMSCORE_REGISTRY__POLL_S"):
        load_settings()


def test_a_renamed_setting_in_a_file_names_its_new_place(tmp_path: Path) -> None:
    config = tmp_path / "s.toml"
    config.write_text("[scorer]\nmax_event_bytes = 1000\n")
    with pytest.raises(ConfigError, match=r"scorer.max_event_bytes: renamed to validation"):
        load_settings(config)


def test_a_bad_command_line_option_is_one_line_naming_the_flag(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from streamscore.cli import main

    assert main(["score", "--batch-size", "0"]) != 0
    err = capsys.readouterr().err
    assert "--batch-size" in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_the_delivery_choices_are_one_list_for_the_setting_the_flag_and_the_processor() -> None:
    assert DELIVERIES == ("exactly-once", "at-least-once")
    assert SCORER_DELIVERY in DELIVERIES
    assert get_args(ScorerConfig.model_fields["delivery"].annotation) == DELIVERIES
    assert get_args(processor.Delivery) == DELIVERIES


def test_loading_the_settings_loads_neither_joblib_nor_numpy() -> None:
    """Every command loads the settings first, even one that never touches a model;
    a fresh interpreter, since this one has imported everything already."""
    heavy = {"joblib", *HEAVY}
    run = python(
        "import sys, core.settings; core.settings.Settings(); "
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {heavy!r}))"
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"

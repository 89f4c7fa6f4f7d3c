"""Configuration: one YAML file plus environment variables; bad settings are named; secrets hidden."""

from __future__ import annotations

from pathlib import Path

import pytest

from fsivr.config import Config, redact_url


def test_defaults_are_safe() -> None:
    cfg = Config.load(env={})
    assert cfg.listen_host == "127.0.0.1" and cfg.listen_port == 8084
    assert cfg.database_url.startswith("sqlite:///")


def test_file_then_environment(tmp_path: Path) -> None:
    path = tmp_path / "fsivr.yaml"
    path.write_text("listen_port: 9000\nesl_allow: [10.0.0.5, 10.0.1.0/24]\ncommand_timeout: 3\n")
    cfg = Config.load(path, env={"FSIVR_LISTEN_PORT": "9100", "FSIVR_TTS_VOICES": "pl=jola, de=kal"})
    assert cfg.listen_port == 9100  # the environment wins
    assert cfg.esl_allow == ["10.0.0.5", "10.0.1.0/24"]
    assert cfg.command_timeout == 3.0
    assert cfg.voice_for("PL") == "jola" and cfg.voice_for("fr") == cfg.tts_voice


@pytest.mark.parametrize("text, message", [
    ("listen_prot: 1\n", "unknown setting 'listen_prot'"),
    ("listen_port: many\n", "listen_port: 'many' is not a valid int"),
    ("- a\n- b\n", "must be a mapping"),
    ("a: [\n", "not valid YAML"),
])
def test_bad_files_are_named(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message) as info:
        Config.load(path, env={})
    assert str(path) in str(info.value) or "listen_port" in str(info.value)


def test_secrets_never_shown() -> None:
    cfg = Config.load(env={"FSIVR_ESL_PASSWORD": "s3cret",
                           "FSIVR_DATABASE_URL": "postgresql+psycopg://app:hunter2@db/fsivr"})
    shown = repr(cfg.redacted())
    assert "s3cret" not in shown and "hunter2" not in shown
    assert redact_url("sqlite:///var/x.db") == "sqlite:///var/x.db"


def test_readme_documents_every_setting(repo_root: Path) -> None:
    from dataclasses import fields

    readme = (repo_root / "README.md").read_text()
    missing = [f.name for f in fields(Config) if f"`{f.name}`" not in readme]
    assert missing == [], f"README's configuration table lacks {missing}"


def test_switches_read_as_true_or_false() -> None:
    assert Config.load(env={"FSIVR_LIVE_LINK": "off"}).live_link is False
    assert Config.load(env={"FSIVR_LIVE_LINK": "Yes"}).live_link is True
    assert Config.load(env={}).live_link is True
    with pytest.raises(ValueError, match="setting live_link: 'maybe' is not a valid bool"):
        Config.load(env={"FSIVR_LIVE_LINK": "maybe"})


def test_sms_default_region_is_a_deprecated_alias_of_default_region(caplog: pytest.LogCaptureFixture) -> None:
    from fsivr.worker.sms import SmsRules

    cfg = Config.load(env={"FSIVR_SMS_DEFAULT_REGION": "de"})
    assert cfg.default_region == "DE" and SmsRules.from_config(cfg).default_region == "DE"
    assert "sms_default_region is deprecated" in caplog.text
    caplog.clear()
    # the same region both ways is fine (said deprecated); two regions are refused by name
    assert Config.load(env={"FSIVR_SMS_DEFAULT_REGION": "DE", "FSIVR_DEFAULT_REGION": "de"}).default_region == "DE"
    with pytest.raises(ValueError, match=r"default_region .*sms_default_region .*disagree"):
        Config.load(env={"FSIVR_SMS_DEFAULT_REGION": "DE", "FSIVR_DEFAULT_REGION": "PL"})
    # SMS numbers without a country code now follow default_region
    caplog.clear()
    plain = Config.load(env={"FSIVR_DEFAULT_REGION": "DE"})
    assert SmsRules.from_config(plain).message("0151 2345 6789", "hi").to == "+4915123456789"
    assert "deprecated" not in caplog.text

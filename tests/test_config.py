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

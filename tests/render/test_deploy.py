"""fsivr render-conf's deployment: reloadxml over inbound ESL (against fsivr.testing.inbound) only
when something changed since FreeSWITCH last reloaded, and the pending-reload marker that remembers
what it has not."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fsivr.config import Config
from fsivr.render.deploy import PENDING, render_conf
from fsivr.testing.inbound import InboundSwitch

from .conftest import SMALL, config, make_store


@pytest.fixture
def switch() -> Iterator[InboundSwitch]:
    with InboundSwitch(password="s3cret") as sw:
        yield sw


def esl_config(url: str, sw: InboundSwitch, password: str = "s3cret") -> Config:
    cfg = config(url)
    cfg.esl_host, cfg.esl_port = sw.address
    cfg.esl_password = password
    cfg.command_timeout = 3.0
    return cfg


def test_render_conf_reloads_once_and_not_when_unchanged(tmp_path: Path, switch: InboundSwitch) -> None:
    cfg = esl_config(make_store(tmp_path, SMALL), switch)
    out = render_conf(cfg, tmp_path / "conf")
    assert out.ok and out.reloaded and not out.warning
    assert sorted(out.changed) == ["autoload_configs/callcenter.conf.xml", "dialplan/default/fsivr_parking.xml",
                                   "dialplan/fsivr_hold.xml", "dialplan/public/fsivr.xml",
                                   "directory/default/fsivr.xml", "sip_profiles/external/fsivr.xml"]
    assert switch.calls("auth s3cret") >= 1 and switch.calls("api reloadxml") == 1
    assert switch.calls("api sofia profile external rescan") == 1  # gateways changed too
    again = render_conf(cfg, tmp_path / "conf")
    assert again.changed == [] and not again.reloaded
    assert "unchanged" in again.message
    assert switch.calls("api reloadxml") == 1


def test_render_conf_when_freeswitch_is_down(tmp_path: Path) -> None:
    with InboundSwitch() as sw:
        address = sw.address
    cfg = esl_config(make_store(tmp_path, SMALL), sw)
    cfg.esl_host, cfg.esl_port = address  # nobody listens there any more
    out = render_conf(cfg, tmp_path / "conf")
    assert out.changed and out.warning and not out.reloaded
    assert f"FreeSWITCH is not reachable at {address[0]}:{address[1]}" in out.message
    assert (tmp_path / "conf/directory/default/fsivr.xml").exists()
    assert (tmp_path / "conf" / PENDING).exists()
    # Nothing changed since, but FreeSWITCH never loaded those files: the next run reloads them.
    with InboundSwitch(password="s3cret") as sw:
        cfg.esl_host, cfg.esl_port = sw.address
        again = render_conf(cfg, tmp_path / "conf")
        assert again.changed == [] and again.reloaded and again.ok and not again.warning
        assert sorted(again.pending) == sorted(out.changed)
        assert sw.calls("api reloadxml") == 1
        assert sw.calls("api sofia profile external rescan") == 1  # the gateways were among them
        assert not (tmp_path / "conf" / PENDING).exists()
        third = render_conf(cfg, tmp_path / "conf")
        assert not third.reloaded and "unchanged" in third.message
        assert sw.calls("api reloadxml") == 1


def test_a_failed_or_skipped_reload_is_retried_by_the_next_run(tmp_path: Path, switch: InboundSwitch) -> None:
    cfg = esl_config(make_store(tmp_path, SMALL), switch)
    first = render_conf(cfg, tmp_path / "conf", reload=False)
    assert first.changed and not first.reloaded and "next render-conf will reload" in first.message
    switch.api["reloadxml"] = "+OK [Cannot Open log directory or XML Root!]\n"
    failed = render_conf(cfg, tmp_path / "conf")
    assert not failed.ok and failed.changed == [] and (tmp_path / "conf" / PENDING).exists()
    switch.api["reloadxml"] = "+OK [Success]\n"
    fixed = render_conf(cfg, tmp_path / "conf")
    assert fixed.ok and fixed.reloaded and not (tmp_path / "conf" / PENDING).exists()
    assert switch.calls("api reloadxml") == 2


def test_render_conf_wrong_password(tmp_path: Path, switch: InboundSwitch) -> None:
    cfg = esl_config(make_store(tmp_path, SMALL), switch, password="wrong")
    out = render_conf(cfg, tmp_path / "conf")
    assert not out.ok and "refused the ESL password" in out.message
    assert switch.calls("api reloadxml") == 0


def test_render_conf_reloadxml_failure_is_reported(tmp_path: Path, switch: InboundSwitch) -> None:
    # reloadxml says +OK even when it fails; only "+OK [Success]" is success.
    switch.api["reloadxml"] = "+OK [Cannot Open log directory or XML Root!]\n"
    out = render_conf(esl_config(make_store(tmp_path, SMALL), switch), tmp_path / "conf")
    assert not out.ok and "could not reload its XML: +OK [Cannot Open log directory or XML Root!]" in out.message

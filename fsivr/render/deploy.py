"""Deploying FreeSWITCH's configuration: render the XML from the database, write what changed
and ask FreeSWITCH to reload it, remembering (the pending-reload marker) what it has not reloaded
yet. What ``fsivr render-conf`` runs.

FreeSWITCH is reached with the inbound ESL client, which runs on gevent: a process calling this
monkey-patches first (``fsivr render-conf`` does).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fsivr.config import Config
from fsivr.esl.inbound import InboundClient, InboundError, Unreachable
from fsivr.render.conf import CALLCENTER_CONF, load_data, render, secret_warnings, write
from fsivr.render.stock import check_conf
from fsivr.store.db import Store

#: In the output directory while written files have not been reloaded by FreeSWITCH (it was down,
#: refused, failed, or --no-reload): the next run reloads even when nothing changed since. It
#: lists those files (one per line) so the next run also knows whether gateways need a rescan.
PENDING = ".fsivr-reload-pending"


def pending_reload(out_dir: str | Path) -> list[str]:
    try:
        text = (Path(out_dir) / PENDING).read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    # An empty or unreadable list still means "reload": only which rescans are due is unknown.
    return [line for line in text.splitlines() if line.strip()] or ["(unknown)"]


def _mark_pending(out_dir: str | Path, paths: list[str]) -> None:
    marker = Path(out_dir) / PENDING
    tmp = marker.with_name(PENDING + ".tmp")
    tmp.write_text("".join(f"{p}\n" for p in paths), encoding="utf-8")
    tmp.replace(marker)


def _clear_pending(out_dir: str | Path) -> None:
    try:
        (Path(out_dir) / PENDING).unlink()
    except FileNotFoundError:
        pass


@dataclass
class Outcome:
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    reloaded: bool = False
    #: Files written by an earlier run and not reloaded yet (reloaded by this run).
    pending: list[str] = field(default_factory=list)
    #: What happened with FreeSWITCH, for the operator.
    message: str = ""
    ok: bool = True
    #: FreeSWITCH could not be reached: not an error (the files are in place for its next start).
    warning: bool = False
    #: What the configuration around the files does to them (fsivr.render.stock): numbers taken by
    #: an extension that comes first, a dialplan that never includes the file...
    conf_warnings: list[str] = field(default_factory=list)
    conf_notes: list[str] = field(default_factory=list)


def render_conf(cfg: Config, out_dir: str | Path, *, templates: str | Path | None = None,
                reload: bool = True) -> Outcome:
    """Render → check → write what changed → reloadxml (and rescan the gateways' profile when they
    changed: reloadxml does not reload sofia gateways, docs/freeswitch-notes.md §5).

    Reloads only when something changed since FreeSWITCH last reloaded: files changed now, or
    files an earlier run wrote without a successful reload (the PENDING marker). Not on every run:
    reloadxml re-reads FreeSWITCH's whole configuration, and this command is meant to be run
    freely (after every import, from cron).
    """
    store = Store(cfg.database_url)
    try:
        data = store.run(load_data)
    finally:
        store.close()
    files = render(data, cfg, Path(templates) if templates else None)
    changed = write(files, out_dir)
    pending = pending_reload(out_dir)
    out = Outcome(changed=changed, unchanged=sorted(set(files) - set(changed)),
                  pending=sorted(set(pending) - set(changed)))
    policy = cfg.secret_policy()
    check = check_conf(out_dir, cfg.dialplan_context, [number for number, _ in data.numbers], cfg.tts_engine,
                       realm="" if policy.plain_passwords or not data.accounts else policy.realm)
    out.conf_warnings, out.conf_notes = check.warnings + secret_warnings(data, cfg), check.notes
    to_reload = sorted(set(changed) | set(pending))
    if not to_reload:
        out.message = "configuration unchanged; FreeSWITCH not asked to reload"
        return out
    # Before contacting FreeSWITCH: whatever happens next (down, refused, crash), the next run
    # knows these files still need a reload.
    _mark_pending(out_dir, to_reload)
    if not reload:
        out.message = "files written; not reloading (--no-reload): the next render-conf will reload them"
        return out
    client = InboundClient(cfg.esl_host, cfg.esl_port, cfg.esl_password, timeout=cfg.command_timeout)
    try:
        client.reloadxml()
        out.reloaded = True
        _clear_pending(out_dir)
        out.message = f"FreeSWITCH at {client.where} reloaded its XML"
        if out.pending:
            out.message += " (including files an earlier run wrote but could not reload)"
        if any(path.startswith("sip_profiles/") or path == "(unknown)" for path in to_reload):
            reply = client.api(f"sofia profile {cfg.gateway_profile} rescan").strip()
            out.message += f"; sofia profile {cfg.gateway_profile} rescan: {reply or 'no reply'}"
            out.message += (" (new gateways are loaded; a changed existing gateway needs "
                            f"'sofia profile {cfg.gateway_profile} killgw NAME' and another rescan)")
        if CALLCENTER_CONF in to_reload:
            # mod_callcenter keeps loaded queues in memory (reloadxml does not touch them).
            out.message += ("; queues: a running fsivr serve loads/reloads them by itself (else "
                            "'callcenter_config queue reload NAME')")
    except Unreachable as exc:
        out.warning = True
        out.message = (f"files written, but {exc}; run 'fs_cli -x reloadxml' (or this command again) "
                       "once FreeSWITCH is up")
    except InboundError as exc:
        out.ok = False
        out.message = f"files written, but reloading failed: {exc}"
    return out

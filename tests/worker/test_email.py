"""E-mail through a real SMTP server on loopback (aiosmtpd): what arrived, headers, attachments,
logins (the password never in a log or an error), STARTTLS, refusals."""

from __future__ import annotations

import logging
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import procs
import pytest
from farends import SmtpServer, free_port, wait_for, worker_env
from sqlalchemy import select

from fsivr.store.db import Store
from fsivr.store.models import OutboxRow
from fsivr.store.outbox import RetryPolicy
from fsivr.worker.email import EmailSender, SmtpSettings, message_id
from fsivr.worker.errors import PermanentFailure, SendFailed
from fsivr.worker.loop import Worker, WorkerSettings
from fsivr.worker.notify import Notifier

PASSWORD = "s3cr3t-Pa55word!"


def _settings(server: SmtpServer, **kw: object) -> SmtpSettings:
    values: dict[str, object] = {"host": "127.0.0.1", "port": server.port, "security": "none",
                                 "sender": "PBX <pbx@acme.example>", "timeout": 10}
    values.update(kw)
    return SmtpSettings(**values)  # type: ignore[arg-type]


def _row(store: Store, row_id: int) -> OutboxRow:
    with store.session() as s:
        return s.execute(select(OutboxRow).where(OutboxRow.id == row_id)).scalar_one()


def test_voicemail_mail_arrives_with_headers_and_attachments(store: Store, smtp: SmtpServer,
                                                             tmp_path: Path) -> None:
    audio = tmp_path / "msg-0001.wav"
    audio.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(range(256)) * 4)
    fax = tmp_path / "fax.pdf"
    fax.write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
    notifier = Notifier(store)
    got = notifier.email("call:u1:vm", ["Anna <anna@acme.example>", "office@acme.example"],
                         "Voicemail from +48501000001 (0:12)", "A new message, żółć.\n",
                         attachments=[str(audio), {"path": str(fax), "filename": "fax from ACME.pdf"}],
                         cc=["boss@acme.example"], call_uuid="u1")
    worker = Worker(store, {"email": EmailSender(_settings(smtp))}, WorkerSettings())
    assert worker.run_once()
    assert _row(store, got.id).state == "sent"

    [mail] = smtp.received
    assert mail.envelope_from == "pbx@acme.example"
    assert sorted(mail.rcpt_tos) == ["anna@acme.example", "boss@acme.example", "office@acme.example"]
    msg = mail.message
    assert msg["From"] == "PBX <pbx@acme.example>"
    assert msg["To"] == "Anna <anna@acme.example>, office@acme.example"
    assert msg["Cc"] == "boss@acme.example"
    assert msg["Subject"] == "Voicemail from +48501000001 (0:12)"
    assert msg["Message-ID"] == message_id("call:u1:vm", "pbx@acme.example")
    assert msg["Message-ID"].endswith("@acme.example>")
    assert msg["Date"]
    body = msg.get_body(("plain",))
    assert body is not None and body.get_content().replace("\r\n", "\n") == "A new message, żółć.\n"
    parts = {part.get_filename(): part for part in msg.iter_attachments()}
    assert set(parts) == {"msg-0001.wav", "fax from ACME.pdf"}
    assert parts["msg-0001.wav"].get_content_type() == "audio/x-wav"
    assert parts["msg-0001.wav"].get_content() == audio.read_bytes()
    assert parts["fax from ACME.pdf"].get_content_type() == "application/pdf"
    assert parts["fax from ACME.pdf"].get_content() == fax.read_bytes()


def test_message_id_depends_only_on_the_key() -> None:
    a = message_id("call:u1:vm", "pbx@acme.example")
    assert a == message_id("call:u1:vm", "Other Name <pbx@acme.example>")
    assert a != message_id("call:u2:vm", "pbx@acme.example")


def test_login_works_and_the_password_is_never_logged(store: Store, tmp_path: Path,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    server = SmtpServer(auth=("pbx", PASSWORD))
    try:
        caplog.set_level(logging.DEBUG)
        clock_now = [datetime.now(UTC)]
        notifier = Notifier(store, clock=lambda: clock_now[0])
        good = notifier.email("k-good", "a@acme.example", "hi", "text").id
        bad = notifier.email("k-bad", "b@acme.example", "hi", "text").id
        right = EmailSender(_settings(server, user="pbx", password=PASSWORD))
        wrong = EmailSender(_settings(server, user="pbx", password=PASSWORD + "-wrong"))
        assert PASSWORD not in repr(right.settings)
        policy = WorkerSettings(RetryPolicy(backoff_base=60, jitter=0))
        Worker(store, {"email": right}, policy, clock=lambda: clock_now[0]).run_once()
        Worker(store, {"email": wrong}, policy, clock=lambda: clock_now[0]).run_once()
        assert _row(store, good).state == "sent"
        failed = _row(store, bad)
        assert failed.state == "pending"  # a wrong password is fixed in the configuration: retried
        assert "refused the login of 'pbx'" in (failed.last_error or "")
        # smtplib tries each mechanism the server offers (PLAIN, then LOGIN) before giving up
        assert server.logins[0] == ("pbx", True) and server.logins[1:] and \
            all(login == ("pbx", False) for login in server.logins[1:])
        assert len(server.received) == 1
        for text in [failed.last_error or "", caplog.text]:
            assert PASSWORD not in text
    finally:
        server.stop()


def test_worker_process_never_logs_the_smtp_password(db_url: str, tmp_path: Path) -> None:
    server = SmtpServer(auth=("pbx", PASSWORD))
    try:
        s = Store(db_url)
        s.upgrade()
        Notifier(s).email("k-proc", "a@acme.example", "hi", "text")
        s.close()
        env = worker_env(db_url, smtp_host="127.0.0.1", smtp_port=server.port, smtp_security="none",
                         smtp_user="pbx", smtp_password=PASSWORD + "-wrong", worker_poll_interval=0.05)
        proc = procs.spawn([*_fsivr(), "-v", "worker"], env=env, cwd=tmp_path,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            wait_for(lambda: server.logins, what="a login attempt")
        finally:
            proc.terminate()
            out, _ = proc.communicate(timeout=30)
        text = out.decode()
        assert proc.returncode == 0, text
        assert "refused the login of 'pbx'" in text and "smtp_password': '***'" in text
        assert PASSWORD not in text
    finally:
        server.stop()


def _fsivr() -> list[str]:
    import sys

    return [sys.executable, "-m", "fsivr"]


def test_refused_recipient_is_permanent(smtp: SmtpServer) -> None:
    smtp.refuse_rcpt = {"gone@acme.example"}
    sender = EmailSender(_settings(smtp))
    payload = {"to": ["gone@acme.example"], "subject": "x", "text": "y"}
    with pytest.raises(PermanentFailure, match="550"):
        sender(payload, "k")
    # one good recipient among refused ones: sent, the refusal noted
    said = sender({"to": ["gone@acme.example", "ok@acme.example"], "subject": "x", "text": "y"}, "k2")
    assert "refused: gone@acme.example" in said
    assert smtp.received[0].rcpt_tos == ["ok@acme.example"]


def test_unreachable_server_is_retried() -> None:
    sender = EmailSender(SmtpSettings(host="127.0.0.1", port=free_port(), security="none", timeout=5))
    with pytest.raises(SendFailed, match="ConnectionRefusedError"):
        sender({"to": ["a@acme.example"], "subject": "x", "text": "y"}, "k")


def test_a_vanished_attachment_is_permanent(smtp: SmtpServer, tmp_path: Path) -> None:
    sender = EmailSender(_settings(smtp))
    with pytest.raises(PermanentFailure, match="attachment"):
        sender({"to": ["a@acme.example"], "subject": "x", "text": "y",
                "attachments": [{"path": str(tmp_path / "gone.wav")}]}, "k")


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for localhost/127.0.0.1 (openssl), the CA file of the client."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    try:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                        "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"openssl could not make a test certificate: {exc}")
    return cert, key


def test_starttls_login_and_verification(smtp_tls: SmtpServer, certificate: tuple[Path, Path]) -> None:
    cert, _ = certificate
    payload = {"to": ["a@acme.example"], "subject": "over TLS", "text": "y"}
    trusted = EmailSender(_settings(smtp_tls, security="starttls", user="pbx", password=PASSWORD,
                                    cafile=str(cert)))
    assert "accepted by" in trusted(payload, "k1")
    assert smtp_tls.received[0].message["Subject"] == "over TLS"
    # The system CAs do not know the self-signed certificate: no mail, and no password sent.
    untrusted = EmailSender(_settings(smtp_tls, security="starttls", user="pbx", password=PASSWORD))
    with pytest.raises(SendFailed, match="CERTIFICATE_VERIFY_FAILED"):
        untrusted(payload, "k2")
    assert smtp_tls.logins == [("pbx", True)]


def test_starttls_required_but_not_offered(smtp: SmtpServer) -> None:
    sender = EmailSender(_settings(smtp, security="starttls", user="pbx", password=PASSWORD))
    with pytest.raises(SendFailed, match="does not offer STARTTLS"):
        sender({"to": ["a@acme.example"], "subject": "x", "text": "y"}, "k")


@pytest.fixture
def smtp_tls(certificate: tuple[Path, Path]):  # type: ignore[no-untyped-def]
    server = SmtpServer(auth=("pbx", PASSWORD), tls=certificate)
    yield server
    server.stop()


def test_leased_row_is_not_mailed_twice_by_two_workers(store: Store, smtp: SmtpServer) -> None:
    """The same key leased to one worker is not given to another until the lease expires."""
    now = [datetime.now(UTC)]
    Notifier(store, clock=lambda: now[0]).email("k", "a@acme.example", "x", "y")
    sender = EmailSender(_settings(smtp))
    settings = WorkerSettings(lease_seconds=120)
    one = Worker(store, {"email": sender}, settings, clock=lambda: now[0], name="one")
    two = Worker(store, {"email": sender}, settings, clock=lambda: now[0] + timedelta(seconds=1), name="two")
    assert one.run_once()
    assert not two.run_once()
    assert len(smtp.received) == 1


# --- one SMTP connection for a run of messages ----------------------------------------------------


def _mail(n: int) -> dict[str, object]:
    return {"to": [f"a{n}@acme.example"], "subject": f"message {n}", "text": "y"}


def test_one_connection_carries_a_run_of_messages(smtp: SmtpServer) -> None:
    sender = EmailSender(_settings(smtp))
    for n in range(5):
        assert "accepted by" in sender(_mail(n), f"k{n}")
    assert [r.message["Subject"] for r in smtp.received] == [f"message {n}" for n in range(5)]
    assert [r.rcpt_tos for r in smtp.received] == [[f"a{n}@acme.example"] for n in range(5)]
    assert len({r.peer for r in smtp.received}) == 1 and sender.connects == 1
    sender.close()


def test_a_refused_message_keeps_its_classification_and_the_next_one_reconnects(smtp: SmtpServer) -> None:
    smtp.refuse_rcpt = {"gone@acme.example"}
    sender = EmailSender(_settings(smtp))
    assert "accepted by" in sender(_mail(1), "k1")
    with pytest.raises(PermanentFailure, match="550"):
        sender({"to": ["gone@acme.example"], "subject": "x", "text": "y"}, "k2")
    assert "accepted by" in sender(_mail(3), "k3")
    assert [r.message["Subject"] for r in smtp.received] == ["message 1", "message 3"]
    assert sender.connects == 2  # any error: the next message starts on a fresh connection


def test_a_connection_dropped_mid_run_reconnects_and_loses_nothing(store: Store, smtp: SmtpServer) -> None:
    """A worker sending a batch over one SMTP connection: the network drops it after the second
    message; the RSET before the third notices, a new connection carries the rest, and no row
    failed an attempt or was sent twice."""
    from farends import TcpProxy

    proxy = TcpProxy(("127.0.0.1", smtp.port))
    proxy.up()
    try:
        sender = EmailSender(_settings(smtp, port=proxy.port))
        notifier = Notifier(store)
        ids = [notifier.email(f"k{n}", f"a{n}@acme.example", f"message {n}", "y").id for n in range(5)]

        class DropAfterTwo:
            kind = "email"

            def __call__(self, payload: dict[str, object], key: str) -> str:
                said = sender(payload, key)
                if len(smtp.received) == 2:
                    proxy.cut()
                return said

        worker = Worker(store, {"email": DropAfterTwo()}, WorkerSettings(batch=10))
        assert worker.run_once()
    finally:
        proxy.down()
    rows = [_row(store, i) for i in ids]
    assert [(r.state, r.attempts, r.last_error) for r in rows] == [("sent", 1, None)] * 5
    assert sorted(r.message["Subject"] for r in smtp.received) == [f"message {n}" for n in range(5)]
    assert sender.connects == 2


def test_a_connection_is_renewed_after_so_many_messages_or_idle_seconds(smtp: SmtpServer,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import fsivr.worker.email as email_mod

    monkeypatch.setattr(email_mod, "MAX_PER_CONNECTION", 2)
    now = [0.0]
    sender = EmailSender(_settings(smtp), clock=lambda: now[0])
    for n in range(5):
        sender(_mail(n), f"k{n}")
    assert sender.connects == 3  # 2 + 2 + 1
    now[0] += email_mod.REUSE_IDLE  # idle that long: not trusted any more (a silent NAT drop would hang)
    sender(_mail(5), "k5")
    assert sender.connects == 4
    assert len({r.peer for r in smtp.received}) == 4 and len(smtp.received) == 6


def test_starttls_and_login_once_for_a_run_of_messages(smtp_tls: SmtpServer,
                                                       certificate: tuple[Path, Path]) -> None:
    cert, _ = certificate
    sender = EmailSender(_settings(smtp_tls, security="starttls", user="pbx", password=PASSWORD, cafile=str(cert)))
    for n in range(3):
        assert "accepted by" in sender(_mail(n), f"k{n}")
    assert smtp_tls.logins == [("pbx", True)] and sender.connects == 1
    assert len({r.peer for r in smtp_tls.received}) == 1
    sender.close()


def test_a_worker_says_quit_when_it_stops(store: Store, smtp: SmtpServer) -> None:
    sender = EmailSender(_settings(smtp))
    Notifier(store).email("k-stop", "a@acme.example", "x", "y")
    worker = Worker(store, {"email": sender}, WorkerSettings(poll_interval=0.05))
    assert worker.run_once()
    assert sender._smtp is not None
    worker.stop()
    worker.run()  # returns at once, closing the senders on its way out
    assert sender._smtp is None and len(smtp.received) == 1


# --- plain notifications written directly, byte for byte what the email package writes ----------

_WHEN = datetime(2026, 12, 1, 12, 0, 7, tzinfo=UTC)


def _as_sent(msg: object) -> tuple[str, list[str], bytes]:
    """What smtplib's send_message hands to sendmail for ``msg`` (envelope and bytes)."""
    import smtplib

    got: list[tuple[str, list[str], bytes]] = []

    class Capture(smtplib.SMTP):
        def ehlo_or_helo_if_needed(self) -> None:
            pass

        def sendmail(self, from_addr, to_addrs, msg, mail_options=(), rcpt_options=()):  # type: ignore[no-untyped-def,override]
            assert not mail_options  # nothing international
            got.append((from_addr, list(to_addrs), msg))
            return {}

    Capture().send_message(msg)  # type: ignore[arg-type]
    return got[0]


PLAIN = [
    {"to": ["a@acme.example"], "subject": "Voicemail 1", "text": "You have a new voicemail, 42 s."},
    {"to": ["Jan Kowalski <jan@acme.example>", "b@acme.example"], "cc": ["Ops <ops@acme.example>"],
     "reply_to": "Desk <desk@acme.example>", "from": "PBX <pbx@acme.example>", "subject": "Missed call from +48 501",
     "text": "line one\nFrom the caller\n.\n\nlast line with CRLF\r\nand a trailing newline\n"},
    {"to": ["a@acme.example"], "subject": "empty body", "text": ""},
    {"to": ["\"Doe, John\" <j@acme.example>"], "subject": "quoted name", "text": "x" * 78},
    {"to": ["agent7@localhost", "Agent 7 <first.last+tag@mail-1.acme.example>"], "from": "fsivr@localhost",
     "subject": "simple addresses", "text": "y"},
]
OTHERS = [
    {"to": ["a@acme.example"], "subject": "Zażółć gęślą jaźń", "text": "y"},
    {"to": ["a@acme.example"], "subject": "s" * 80, "text": "y"},
    {"to": ["a@acme.example"], "subject": "long line", "text": "x" * 79},
    {"to": ["a@acme.example"], "subject": "utf-8 body", "text": "zażółć"},
    {"to": ["a@acme.example"], "subject": "html", "text": "y", "html": "<p>y</p>"},
    {"to": ["a@acme.example"], "subject": "=?utf-8?q?encoded?=", "text": "y"},
    {"to": ["a@acme.example"], "subject": "", "text": "y"},
    {"to": ["a@acme.example"], "subject": "two  blanks", "text": "y"},
    {"to": ["Name With.Dot <d@acme.example>"], "subject": "a name the parser re-quotes", "text": "y"},
    {"to": ["a@acme.example", "John (the boss) <j@acme.example>"], "subject": "a comment", "text": "y"},
]


@pytest.mark.parametrize("payload", PLAIN + OTHERS)
def test_plain_messages_are_written_as_the_email_package_would(payload: dict[str, object]) -> None:
    from fsivr.worker.email import build_message, plain_message

    plain = plain_message(payload, "key-1", "fsivr@pbx.example", now=_WHEN)
    if payload in PLAIN:
        assert plain is not None
    if plain is not None:
        assert (plain.sender, plain.recipients, plain.data) == _as_sent(
            build_message(payload, "key-1", "fsivr@pbx.example", now=_WHEN))
        assert plain.message_id == message_id("key-1", payload.get("from") or "fsivr@pbx.example")  # type: ignore[arg-type]


def test_a_plain_message_arrives_whole(smtp: SmtpServer) -> None:
    sender = EmailSender(_settings(smtp))
    payload = PLAIN[1]
    sender(payload, "k-plain")
    [got] = smtp.received
    assert got.envelope_from == "pbx@acme.example"
    assert got.rcpt_tos == ["jan@acme.example", "b@acme.example", "ops@acme.example"]
    assert got.message["Message-ID"] == message_id("k-plain", "PBX <pbx@acme.example>")
    assert got.message["Reply-To"] == "Desk <desk@acme.example>"
    # ">From": smtplib's send_message escapes it so too (mbox style), as before
    assert got.message.get_content().replace("\r\n", "\n") == (
        "line one\n>From the caller\n.\n\nlast line with CRLF\nand a trailing newline\n")

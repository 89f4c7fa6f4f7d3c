"""What an import stores of a bundle's SIP passwords and mailbox PINs (fsivr.store.secrets says why).

A plain SIP password becomes its a1-hash for the configured realm and is dropped, unless
sip_plain_passwords; a plain mailbox PIN becomes an scrypt hash (fsivr.engine.pins), unless
mailbox_plain_pins. What ``fsivr export`` wrote (``a1_hash``, ``pin: scrypt$...``) is kept as it is.
A PIN already stored as the hash of the same PIN keeps that hash (scrypt is salted: hashing it again
would make an unchanged bundle look changed, and bump the directory for every server).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fsivr.engine.pins import PIN_TEXT, check_hash, hash_pin, verify_pin
from fsivr.store.directory import Directory, Mailbox
from fsivr.store.models import AccountRow, MailboxRow
from fsivr.store.secrets import SecretPolicy, is_hashed_pin, make_a1, realm_missing, split_a1


def protect(directory: Directory, stored_boxes: dict[str, Mailbox],
            policy: SecretPolicy) -> tuple[Directory, list[str]]:
    """The directory as it is to be stored, and the problems (one line each) that stop the import."""
    problems: list[str] = []
    accounts = []
    unhashable: list[str] = []
    for a in directory.accounts:
        if a.a1_hash is not None:
            realm, digest = split_a1(a.a1_hash)  # the bundle parser checked the form
            if policy.realm and realm != policy.realm:
                problems.append(f"account {a.user}: a1_hash was made for realm {realm!r}, but sip_realm is "
                                f"{policy.realm!r}; phones would be refused: give the account's password instead")
            accounts.append(replace(a, a1_hash=f"{realm}:{digest}"))
        elif a.password is not None:
            if policy.realm:
                accounts.append(replace(a, a1_hash=make_a1(a.user, policy.realm, a.password),
                                        password=a.password if policy.plain_passwords else None))
            elif policy.plain_passwords:
                accounts.append(a)
            else:
                unhashable.append(a.user)
                accounts.append(a)
        else:
            accounts.append(a)
    if unhashable:
        shown = ", ".join(unhashable[:5]) + (f" and {len(unhashable) - 5} more" if len(unhashable) > 5 else "")
        problems.append(realm_missing(f"account{'s' if len(unhashable) > 1 else ''} {shown}"))
    mailboxes = []
    for mb in directory.mailboxes:
        pin = mb.pin
        if pin is None or (policy.plain_pins and not is_hashed_pin(pin)):
            mailboxes.append(mb)
            continue
        if is_hashed_pin(pin):
            try:
                check_hash(pin)
            except ValueError as exc:
                problems.append(f"mailbox {mb.box}: pin: {exc}")
            mailboxes.append(mb)
            continue
        if not PIN_TEXT.match(pin):
            problems.append(f"mailbox {mb.box}: pin: a PIN is 3 to 16 keys: digits and *")
            mailboxes.append(mb)
            continue
        old = stored_boxes.get(mb.box)
        if old is not None and is_hashed_pin(old.pin) and verify_pin(pin, str(old.pin)):
            mailboxes.append(replace(mb, pin=old.pin))
        else:
            mailboxes.append(replace(mb, pin=hash_pin(pin)))
    return replace(directory, accounts=accounts, mailboxes=mailboxes), problems


@dataclass
class Hashed:
    """What ``fsivr db hash-secrets`` did."""

    #: Accounts given an a1-hash for the configured realm (new, or for another realm before).
    a1_hashed: int = 0
    #: Plain SIP passwords removed (their a1-hash kept).
    passwords_dropped: int = 0
    #: Mailbox PINs replaced by their scrypt hash.
    pins_hashed: int = 0


class CannotHash(ValueError):
    """Stored secrets that cannot be converted as the policy asks; nothing was changed."""


def plain_secrets(session: Session) -> tuple[int, int]:
    """(accounts with a plain SIP password, mailboxes with a plain PIN) — what `db upgrade` reports."""
    accounts = session.scalar(select(func.count()).select_from(AccountRow).where(AccountRow.password.is_not(None)))
    pins = [p for p in session.scalars(select(MailboxRow.pin).where(MailboxRow.pin.is_not(None)))
            if not is_hashed_pin(p)]
    return int(accounts or 0), len(pins)


def hash_stored_secrets(session: Session, policy: SecretPolicy) -> Hashed:
    """Convert the stored plain SIP passwords and mailbox PINs as ``policy`` says (the rows of
    before migration 0017, or after turning sip_plain_passwords / mailbox_plain_pins off), in the
    caller's transaction. Raises CannotHash (changing nothing) when a password needs a realm that
    is not configured or a PIN is not one a keypad can type."""
    out = Hashed()
    accounts = list(session.scalars(select(AccountRow).where(AccountRow.password.is_not(None))
                                    .order_by(AccountRow.user)))
    boxes = [] if policy.plain_pins else [
        m for m in session.scalars(select(MailboxRow).where(MailboxRow.pin.is_not(None)).order_by(MailboxRow.box))
        if not is_hashed_pin(m.pin)]
    if accounts and not policy.realm and not policy.plain_passwords:
        users = [a.user for a in accounts]
        raise CannotHash(realm_missing(f"{len(users)} account(s) ({', '.join(users[:5])})"))
    bad = [m.box for m in boxes if not PIN_TEXT.match(str(m.pin))]
    if bad:
        raise CannotHash(f"mailbox PINs must be 3 to 16 keys (digits and *) to be hashed: {', '.join(bad)}; import "
                         "these mailboxes again with a PIN that is, or set mailbox_plain_pins: true")
    for row in accounts:
        if policy.realm:
            a1 = make_a1(row.user, policy.realm, str(row.password))
            if row.a1_hash != a1:
                row.a1_hash = a1
                out.a1_hashed += 1
        if not policy.plain_passwords:
            row.password = None
            out.passwords_dropped += 1
    for box in boxes:
        box.pin = hash_pin(str(box.pin))
        out.pins_hashed += 1
    session.flush()
    return out

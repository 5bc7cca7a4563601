"""Names learned from the mail the cycle reads, and the greeting names the drafter and the preview use.

The rules are pure (:mod:`followupd.planning.known_names`); this module gathers what a cycle's headers say
(:class:`NameLearner`, fed by the folder sync), stores it in ``followupd_meta`` (one row per person, keyed by a
hash of the address, as the recipient's clock is) and answers "what do we call this recipient"
(:func:`named_recipients`), for the draft and for ``preview`` alike, so both write the same greeting.

Why the meta table and not a new one: a name is one small value per person, read by key, and no schema
migration is needed. It is bounded (:data:`~followupd.planning.known_names.MAX_PEOPLE` people, the least
recently seen forgotten first) because every personal sender would otherwise stay forever; names are learned
for anyone who writes, not only for recipients of tracked threads, because the mail that names a person often
comes before the user tracks a message to them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from followupd.adapters import store as st
from followupd.mail.headers import Address, MessageKind
from followupd.planning.known_names import (
    GIVEN,
    KEY_PREFIX,
    MAX_PEOPLE,
    OWN,
    PRUNE_TO,
    clean_name,
    decode,
    encode,
    learn,
    meta_key,
)
from followupd.planning.matching import is_own_address

if TYPE_CHECKING:  # the context imports the drafter, which imports this module: a type only, read lazily
    from followupd.engine.context import SeenMessage

# Every key starting with KEY_PREFIX lies in [KEY_PREFIX, _KEY_END): a range the primary key's index answers
# (a LIKE prefix is not index-assisted in every database and collation).
_KEY_END = KEY_PREFIX[:-1] + chr(ord(KEY_PREFIX[-1]) + 1)


class NameLearner:
    """One cycle's names: what each person's own From and the user's Sent To/Cc called them."""

    def __init__(self, own_addresses: frozenset[str]) -> None:
        self.own_addresses = own_addresses
        self._seen: list[tuple[str, str, int, str]] = []  # (email, display name, unix time, source)

    def observe(self, batch: Iterable[SeenMessage]) -> None:
        """Note the display names in a batch: From of others' personal mail, To/Cc of the user's sent mail.

        Only personal mail counts for From: lists, bounces and automatic mail name a robot or rewrite the name
        ("Bob via the list"). Without any date the message cannot say whether its name is newer: skipped."""
        for seen in batch:
            when = seen.when
            if when is None or when.utcoffset() is None:
                continue
            at = int(when.timestamp())
            meta = seen.meta
            sender = meta.from_
            if sender is None:
                continue
            own_sender = is_own_address(sender.email, self.own_addresses)
            if not own_sender and not seen.is_sent_folder and meta.kind is MessageKind.PERSONAL:
                if sender.name:
                    self._seen.append((sender.email, sender.name, at, OWN))
            elif own_sender and seen.is_sent_folder:
                for address in (*meta.to, *meta.cc):
                    if address.name and not is_own_address(address.email, self.own_addresses):
                        self._seen.append((address.email, address.name, at, GIVEN))

    def save(self, session: Session) -> int:
        """Store what this cycle learned; returns how many people's names changed. Keeps the table bounded."""
        people = {email.strip().lower() for email, _display, _at, _source in self._seen}
        stored = _load(session, [meta_key(email) for email in people])
        learned = {email: decode(stored.get(meta_key(email))) for email in people}
        for email, display, at, source in self._seen:
            key = email.strip().lower()
            learned[key] = learn(learned[key], display, key, at, source=source)
        changed = 0
        for email, known in learned.items():
            text = encode(known)
            stored_key = meta_key(email)
            if known.best() is None or stored.get(stored_key) == text:
                continue
            if stored_key in stored:
                st.set_meta(session, stored_key, text)  # the row is in the session already: no query
            else:
                session.add(st.Meta(key=stored_key, value=text))  # known absent: no lookup per new person
            changed += 1
        self._seen.clear()
        if changed:
            _prune(session)
        return changed


def _load(session: Session, keys: Sequence[str]) -> dict[str, str]:
    """The stored values of ``keys``, in a few queries instead of one per person (a first sync meets
    thousands); the rows stay in the session, so :func:`followupd.adapters.store.set_meta` finds them there."""
    found: dict[str, str] = {}
    for start in range(0, len(keys), 500):
        for row in session.scalars(select(st.Meta).where(st.Meta.key.in_(keys[start:start + 500]))):
            found[row.key] = row.value
    return found


def _prune(session: Session) -> None:
    """Forget the least recently seen people once more than MAX_PEOPLE are known (down to PRUNE_TO)."""
    in_range = (st.Meta.key >= KEY_PREFIX, st.Meta.key < _KEY_END)
    session.flush()
    count = session.scalar(select(func.count()).select_from(st.Meta).where(*in_range)) or 0
    if count <= MAX_PEOPLE:
        return
    rows = session.execute(select(st.Meta.key, st.Meta.value).where(*in_range)).all()
    by_age = sorted(rows, key=lambda row: decode(row[1]).last_seen)
    doomed = [key for key, _value in by_age[: count - PRUNE_TO]]
    for start in range(0, len(doomed), 500):
        session.execute(delete(st.Meta).where(st.Meta.key.in_(doomed[start:start + 500])))


def known_name(session: Session | None, email: str) -> tuple[str, str] | None:
    """(name, source) learned for ``email``; None when nothing is known (or there is no session)."""
    if session is None:
        return None
    return decode(st.get_meta(session, meta_key(email))).best()


def named_recipients(session: Session | None, recipients: Sequence[Address]) -> tuple[Address, ...]:
    """The recipients as a greeting should see them: one without a usable display name gets the name learned
    for the address (their own From over the user's Sent To/Cc); the rest are unchanged."""
    return tuple(_named(session, address) for address in recipients)


def _named(session: Session | None, address: Address) -> Address:
    if clean_name(address.name, address.email):
        return address
    found = known_name(session, address.email)
    return replace(address, name=found[0]) if found is not None else address


def learned_for(session: Session | None, recipients: Sequence[Address]) -> list[tuple[str, str, str]]:
    """(address, name, source) of each recipient greeted by a learned name: what ``explain`` shows."""
    found: list[tuple[str, str, str]] = []
    for address in recipients:
        if clean_name(address.name, address.email):
            continue
        learned = known_name(session, address.email)
        if learned is not None:
            found.append((address.email, *learned))
    return found

"""What every step of one cycle shares: the messages it read, its report, its settings and its body reader.

Each step (sync, tracking, applying events) is a small object made per cycle from a :class:`CycleContext`, so
what a cycle works with is handed to it, never stashed on the engine between cycles.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from followupd.adapters.clock import Clock
from followupd.adapters.imap import FetchedHeader, FolderStatus, ResolvedFolders
from followupd.config import Config
from followupd.engine.drafts import DraftReport, DraftsPort
from followupd.engine.sending import SendingMailbox, SendReport
from followupd.errors import OperationalError
from followupd.mail.exchange import thread_index_guid
from followupd.mail.headers import Address, MessageMeta
from followupd.planning.matching import ThreadIndex

logger = logging.getLogger("followupd.engine.cycle")

#: Shared mail providers: "same domain" says nothing about being a colleague there.
FREEMAIL_DOMAINS = frozenset({
    "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "live.com", "msn.com", "yahoo.com", "ymail.com",
    "icloud.com", "me.com", "mac.com", "aol.com", "gmx.de", "gmx.net", "gmx.com", "web.de", "t-online.de",
    "mail.com", "proton.me", "protonmail.com", "fastmail.com", "yandex.ru", "mail.ru", "qq.com", "163.com",
    "orange.fr", "free.fr", "laposte.net", "libero.it", "zoho.com",
})


class MailboxPort(DraftsPort, SendingMailbox, Protocol):
    """What the engine needs from the IMAP adapter (``followupd.adapters.imap.Mailbox`` provides it)."""

    def resolve_folders(self, *, sent: str | None, drafts: str | None,
                        watch: tuple[str, ...] | None) -> ResolvedFolders: ...
    def examine(self, folder: str) -> FolderStatus: ...
    def fetch_headers_since(self, folder: str, last_uid: int, fields: tuple[str, ...], *, batch: int = 500,
                            expect_uidvalidity: int | None = None) -> Iterable[FetchedHeader]: ...
    def fetch_header_fields(self, folder: str, uids: Sequence[int], fields: Sequence[str], *,
                            expect_uidvalidity: int | None = None) -> dict[int, bytes]: ...


@dataclass(frozen=True)
class SeenMessage:
    """A fetched message, parsed, with where it came from."""

    folder: str
    uid: int
    meta: MessageMeta
    internaldate: datetime | None
    is_sent_folder: bool
    conversation_keys: tuple[str, ...] = ()  # provider thread ids (Gmail X-GM-THRID, Exchange Thread-Index)

    @property
    def when(self) -> datetime | None:
        """When the message was written: its Date header, else when the server received it."""
        return self.meta.date or self.internaldate

    @property
    def where(self) -> str:
        return f"{self.folder}:{self.uid}"


@dataclass
class CycleReport:
    """What one cycle saw and changed; its ``summary()`` is the one INFO line a cycle logs."""

    folders: dict[str, int] = field(default_factory=dict)  # folder -> new messages read
    rescanned: list[str] = field(default_factory=list)
    skipped: int = 0
    new_threads: list[str] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)
    drafts: DraftReport = field(default_factory=DraftReport)
    touched: set[str] = field(default_factory=set)  # threads whose schedule this cycle may have changed
    requests: list[str] = field(default_factory=list)
    gmail_ids: set[int] = field(default_factory=set)  # X-GM-MSGIDs read this cycle (one message, many labels)
    sends: SendReport = field(default_factory=SendReport)
    watched: tuple[str, ...] = ()  # the folders replies arrive in (resolved), for IDLE

    @property
    def fetched(self) -> int:
        return sum(self.folders.values())

    def summary(self) -> str:
        parts = [f"read {self.fetched} new message(s) in {len(self.folders)} folder(s)"]
        if self.new_threads:
            parts.append(f"{len(self.new_threads)} new tracked thread(s)")
        if self.changes:
            parts.append("; ".join(self.changes))
        if self.requests:
            parts.append("; ".join(self.requests))
        if self.sends.sent:
            parts.append(f"{len(self.sends.sent)} follow-up(s) sent")
        if self.sends.failed:
            parts.append(f"{len(self.sends.failed)} follow-up(s) failed to send")
        if self.drafts.drafted:
            parts.append(f"{len(self.drafts.drafted)} follow-up draft(s) queued")
        if self.drafts.reminded:
            parts.append(f"{len(self.drafts.reminded)} reminder(s) about your promises")
        if self.drafts.skipped:
            parts.append(f"{len(self.drafts.skipped)} draft(s) you deleted counted as skipped")
        if self.drafts.errors:
            parts.append(f"{len(self.drafts.errors)} draft(s) failed: " + "; ".join(self.drafts.errors))
        if self.skipped:
            parts.append(f"{self.skipped} unreadable message(s) skipped")
        if self.rescanned:
            parts.append("rescanned " + ", ".join(self.rescanned) + " (UIDVALIDITY changed)")
        return "; ".join(parts)


class LazyIndex:
    """The open-thread index, built on first use: a cycle with no new mail never loads it."""

    def __init__(self, build: Callable[[], ThreadIndex]) -> None:
        self._build = build
        self._index: ThreadIndex | None = None

    def __call__(self) -> ThreadIndex:
        if self._index is None:
            self._index = self._build()
        return self._index


def conversation_keys(meta: MessageMeta, gm_thrid: int | None) -> tuple[str, ...]:
    """Provider conversation ids, written like Message-IDs so the thread index can hold them beside real ones.

    Gmail's X-GM-THRID and Exchange's Thread-Index GUID survive clients that trim In-Reply-To/References.
    They are only ever used for matching, never written into a draft's References."""
    keys = []
    if gm_thrid is not None:
        keys.append(f"<gmail-thread-{gm_thrid}@x-gm-thrid.invalid>")
    guid = thread_index_guid(meta.thread_index) if meta.thread_index else None
    if guid:
        keys.append(f"<exchange-conversation-{guid}@thread-index.invalid>")
    return tuple(keys)


def thread_id_for(message_id: str) -> str:
    """A short, stable thread id derived from the Message-ID, so both copies of a message agree on it."""
    return hashlib.sha256(message_id.encode("utf-8", "surrogateescape")).hexdigest()[:12]


def addr_dicts(addresses: Iterable[Address]) -> list[dict[str, str]]:
    return [{"email": a.email, "name": a.name} for a in addresses]


@dataclass(frozen=True)
class CycleContext:
    """The account's settings and clock, and who the user is: read by every step of a cycle."""

    config: Config
    clock: Clock

    @property
    def tz(self) -> ZoneInfo:
        return self.config.identity.timezone

    @property
    def own_addresses(self) -> frozenset[str]:
        return frozenset(a.lower() for a in self.config.identity.addresses)

    @property
    def tracking_address(self) -> str:
        return self.config.tracking.address.lower()


class CycleStep:
    """A step of one cycle: the context's fields at hand, as the engine's own methods had them."""

    def __init__(self, context: CycleContext) -> None:
        self.context = context
        self.config = context.config
        self.clock = context.clock
        self.tz: ZoneInfo = context.tz
        self.own_addresses = context.own_addresses
        self.tracking_address = context.tracking_address

    def sent_day(self, seen: SeenMessage) -> date:
        """The user's calendar day a message was written on (its Date, else now), for a suffix's dates. A Date
        near year 9999 in a zone behind UTC cannot be moved to the user's zone (OverflowError): today, then."""
        try:
            return (seen.when or self.clock.now()).astimezone(self.tz).date()
        except OverflowError:
            return self.clock.now().astimezone(self.tz).date()


class BodyFetcher(Protocol):
    def fetch_full(self, folder: str, uid: int) -> bytes | None: ...


class BodyReader:
    """The whole message, read with BODY.PEEK (\\Seen untouched), for the few worth it (matched OOOs, replies,
    bounces); None when it cannot be had. The last one is kept: a notice check and its reading ask twice.

    :meth:`prefetch` reads a batch's likely bodies in a few FETCHes up front (a first sync reads thousands); a
    body not prefetched is read alone, as before, so a wrong guess costs only time."""

    def __init__(self, mailbox: BodyFetcher | None) -> None:
        self._mailbox = mailbox
        self._last: tuple[tuple[str, int, str | None], bytes | None] | None = None
        self._ready: dict[tuple[str, int], bytes | None] = {}  # this batch's prefetched bodies

    def prefetch(self, folder: str, uids: Sequence[int]) -> None:
        """Read the bodies of ``uids`` in ``folder`` now, replacing the previous batch's (memory stays one batch).

        Only when the mailbox can read many at once (``fetch_bodies``); a failure is left to the single reads."""
        self._ready = {}
        fetch_many = getattr(self._mailbox, "fetch_bodies", None)
        if fetch_many is None or not uids:
            return
        try:
            found: dict[int, bytes] = fetch_many(folder, uids)
        except OperationalError as exc:
            logger.debug("%s: could not read %d message bodies at once (%s); reading them one by one",
                         folder, len(uids), exc)
            return
        # Only what came back: a body the answer left out (a server's quirk, a message expunged meanwhile) gets its
        # own read when it is needed, as before the read-ahead, never a verdict from headers alone.
        asked = set(uids)
        self._ready = {(folder, uid): body for uid, body in found.items() if uid in asked}

    def __call__(self, seen: SeenMessage) -> bytes | None:
        if self._mailbox is None:
            return None
        key = (seen.folder, seen.uid, seen.meta.message_id)
        if self._last is not None and self._last[0] == key:
            return self._last[1]
        if (seen.folder, seen.uid) in self._ready:
            body = self._ready[(seen.folder, seen.uid)]
            self._last = (key, body)
            return body
        try:
            body = self._mailbox.fetch_full(seen.folder, seen.uid)
        except OperationalError as exc:
            logger.warning("%s: could not read the message body (%s); judging by its headers", seen.where, exc)
            return None
        self._last = (key, body)
        return body

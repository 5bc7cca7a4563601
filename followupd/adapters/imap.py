"""The IMAP adapter: this module and imap_session.py (connection, TLS, login) are the only ones that import
imapclient; imap_folders.py (which folders to use) is pure. Here: what followupd does with a mailbox
(capabilities, IDLE, folders, fetching, drafts).

Everything above this module talks about folders, UIDs and raw header bytes; nothing above it knows which
library speaks IMAP, and nothing above it sees an imapclient, socket or ssl exception: they are translated
here into :class:`~followupd.errors.MailboxError` / :class:`~followupd.errors.AuthenticationError` (``raise
... from``), with the server's ``host:port`` and what we were doing, never the password.

Two promises the rest of followupd relies on:

* Reading never changes the mailbox. Folders are opened with EXAMINE (read-only, RFC 3501 §6.3.2) and bodies
  are fetched with ``BODY.PEEK`` (RFC 3501 §6.4.5: a plain ``BODY[...]`` fetch sets ``\\Seen``). The user
  must not find their mail marked read because a daemon looked at it.
* Writing touches only followupd's own messages: APPEND of drafts, and removal of exactly the UIDs the caller
  names with UID EXPUNGE (UIDPLUS, RFC 4315). A plain EXPUNGE would also destroy messages the user flagged
  ``\\Deleted`` in another client but has not expunged yet, so we never send one.

One :class:`Mailbox` is one connection and one selected folder at a time; it is not thread-safe.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from imapclient.exceptions import IMAPClientError

from followupd.adapters.fetchparse import parse_fetch_data, parse_internaldate
from followupd.adapters.imap_folders import ListedFolder, ResolvedFolders, resolve_listing
from followupd.adapters.imap_session import ImapSession
from followupd.errors import FetchSyntaxError, MailboxError
from followupd.mail.patterns import lazy_pattern

__all__ = ["FetchedHeader", "FolderStatus", "Mailbox", "ResolvedFolders"]

logger = logging.getLogger(__name__)

# RFC 4315 §3: "A001 OK [APPENDUID 38505 3955] APPEND completed"; imapclient hands back only the text after
# the tag and status, and does not parse the response code.
_APPENDUID = lazy_pattern(rb"\[APPENDUID\s+(\d+)\s+(\d+)\]", re.IGNORECASE)
# Header field names go into the command line unquoted (RFC 3501 header-fld-name is an astring): accept the
# characters real field names use and nothing that could end the atom or the list.
_FIELD_NAME = lazy_pattern(r"[A-Za-z0-9][A-Za-z0-9_.-]*")

# Untagged responses during IDLE that mean the watched folder changed (RFC 3501 §7.3-7.4, RFC 7162 §3.2.10).
_IDLE_CHANGES = frozenset({"EXISTS", "EXPUNGE", "FETCH", "RECENT"})


@dataclass(frozen=True)
class FolderStatus:
    """What EXAMINE told us: the cursor key (UIDVALIDITY) and where new UIDs start (UIDNEXT, if sent).

    ``exists`` (the message count) with UIDNEXT tells whether anything was added or removed since an earlier
    look: an addition always raises UIDNEXT, a removal without one lowers EXISTS. Not part of equality, so a
    status still compares by what identifies the folder's UID space and cursor.
    """

    name: str
    uidvalidity: int
    uidnext: int | None
    exists: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class FetchedHeader:
    """One message's requested header fields, as raw bytes for the pure parser, plus server metadata.

    ``internaldate`` (RFC 3501 §2.3.3, converted to UTC) is when the server received the message, or what the
    APPENDing client said: unlike the Date header, the remote sender's clock has no say in it.
    """

    uid: int
    raw: bytes
    internaldate: datetime | None
    size: int
    flags: tuple[bytes, ...]
    gm_msgid: int | None = None   # Gmail: X-GM-MSGID, the same message under every label
    gm_thrid: int | None = None   # Gmail: X-GM-THRID, Gmail's own conversation id


def _message_set(uids: Sequence[int]) -> str:
    """``1:3,7,9:12`` for the sorted ``uids`` (RFC 3501 §9 sequence-set): a 500-UID batch in a short line."""
    ranges: list[str] = []
    ordered = sorted(set(uids))
    start = prev = ordered[0]
    for uid in [*ordered[1:], 0]:
        if uid == prev + 1:
            prev = uid
            continue
        ranges.append(str(start) if start == prev else f"{start}:{prev}")
        start = prev = uid
    return ",".join(ranges)


def _check_field_name(name: str) -> str:
    if not _FIELD_NAME.fullmatch(name):
        raise ValueError(f"not a usable header field name: {name!r}")
    return name.upper()


class Mailbox(ImapSession):
    """One authenticated IMAP connection: get it from :meth:`connect`, close it with ``with`` or logout()."""

    # -- capabilities ----------------------------------------------------------------------------------------

    def capabilities(self) -> frozenset[str]:
        """Upper-cased capability names after login (servers may announce more once authenticated)."""
        if self._capabilities is None:
            with self._errors("asking for capabilities"):
                raw = self._conn().capabilities()
            self._capabilities = frozenset(
                (c.decode("ascii", "replace") if isinstance(c, bytes) else str(c)).upper() for c in raw
            )
        return self._capabilities

    def idle_supported(self) -> bool:
        """True when the server announces IDLE (RFC 2177): the daemon can wait for mail instead of polling."""
        return "IDLE" in self.capabilities()

    # -- IDLE (RFC 2177) -------------------------------------------------------------------------------------
    # A watcher's connection does nothing but wait: examine(folder), idle_start(), then idle_wait() in a loop,
    # idle_end() before anything else is sent (RFC 2177: no other command is allowed until DONE), logout().

    def idle_start(self) -> None:
        """Enter IDLE in the folder opened last; open it with :meth:`examine`, so watching never sets flags.

        IDLE reports changes to the selected folder only: one connection per watched folder. RFC 2177 lets a
        server drop a client after 30 idle minutes (NAT boxes and Gmail drop sooner), so callers end and
        re-enter IDLE every few minutes.
        """
        if self._selected is None:
            raise MailboxError(f"IDLE on {self._where} needs an open folder; call examine() first")
        with self._errors(f"starting IDLE in folder {self._selected[0]!r}"):
            self._conn().idle()

    def idle_wait(self, timeout: float) -> frozenset[str]:
        """Wait up to ``timeout`` seconds in IDLE; return which kinds of change the server reported.

        The kinds are ``EXISTS`` (new mail), ``EXPUNGE``/``VANISHED`` (removals), ``FETCH`` (flag changes)
        and ``RECENT``; keep-alives ("OK Still here") give an empty set. A connection the server ended (BYE)
        or that hit end-of-file raises MailboxError, like any other broken connection: imapclient's
        idle_check() swallows EOF and returns nothing, so an early empty return is checked with DONE + IDLE,
        whose reply a dead connection cannot give.
        """
        client = self._conn()
        started = time.monotonic()
        with self._errors("waiting for changes (IDLE)"):
            responses: list[tuple[Any, ...]] = client.idle_check(timeout=timeout)
            if not responses and timeout > 0 and time.monotonic() - started < timeout / 2:
                _text, responses = client.idle_done()
                client.idle()
        return self._idle_changes(responses)

    def idle_end(self) -> frozenset[str]:
        """Leave IDLE (DONE) so other commands, or LOGOUT, can be sent; returns changes reported meanwhile."""
        with self._errors("ending IDLE"):
            _text, responses = self._conn().idle_done()
        return self._idle_changes(responses)

    def _idle_changes(self, responses: Sequence[tuple[Any, ...]]) -> frozenset[str]:
        changes: set[str] = set()
        for response in responses:
            if not response:
                continue
            head = response[0]
            if isinstance(head, bytes) and head.upper() == b"BYE":
                # RFC 3501 §7.1.5: the server is closing the connection (shutdown, kick, idle timeout).
                self._shutdown()
                text = b" ".join(p for p in response[1:] if isinstance(p, bytes)).decode("utf-8", "replace")
                raise MailboxError(f"{self._where} closed the connection while waiting in IDLE: {text}")
            if isinstance(head, bytes) and head.upper() == b"VANISHED":
                changes.add("VANISHED")
            elif isinstance(head, int) and len(response) > 1 and isinstance(response[1], bytes):
                kind = response[1].upper().decode("ascii", "replace")
                if kind in _IDLE_CHANGES:
                    changes.add(kind)
        return frozenset(changes)

    # -- folders ---------------------------------------------------------------------------------------------

    def _list_folders(self) -> list[ListedFolder]:
        with self._errors("listing folders"):
            listed = self._conn().list_folders()
        result = []
        for attributes, _delimiter, name in listed:
            attrs = frozenset(
                (a.decode("ascii", "replace") if isinstance(a, bytes) else str(a)).lower() for a in attributes
            )
            result.append(ListedFolder(str(name), attrs))
        return result

    def resolve_folders(self, *, sent: str | None, drafts: str | None,
                        watch: tuple[str, ...] | None) -> ResolvedFolders:
        """Turn the configured folder names (or their absence) into names that exist on this server.

        A configured name must exist: a typo should stop start-up with a list of what exists, not silently
        watch nothing. Absent names are discovered: first by SPECIAL-USE attribute (RFC 6154, one LIST), then
        by the names common clients and servers use. ``watch`` defaults to INBOX plus the archive folder,
        where replies end up when a client or filter files them away. Gmail's ``\\All`` ("All Mail") is never
        taken as the archive: it holds every message, Sent and INBOX included, so watching it would read
        everything twice.
        """
        resolved = resolve_listing(self._list_folders(), sent=sent, drafts=drafts, watch=watch, where=self._where)
        logger.debug("%s: folders resolved: %s", self._where, resolved)
        return resolved

    def _still_open(self, folder: str) -> int:
        """UIDVALIDITY of ``folder``, re-opening it (read-only) only if another call selected something else.

        For the batches of one fetch: their UIDs are already known, so no fresh view of the folder is needed.
        """
        if self._selected is not None and self._selected[:2] == (folder, True):
            return self._selected[2]
        return self._open(folder, readonly=True).uidvalidity

    def _open(self, folder: str, *, readonly: bool) -> FolderStatus:
        """SELECT (or EXAMINE when ``readonly``) ``folder`` afresh, even if it is already selected.

        Every public operation starts here: a server reports changes made by other connections only when
        the client gives it a chance (RFC 3501 §5.2; NOOP, §6.1.2, exists as the poll). Measured on Dovecot:
        SEARCH in a folder selected before a delivery did not find the new message.
        """
        self._selected = None
        verb = "EXAMINE" if readonly else "SELECT"
        with self._errors(f"opening folder {folder!r} ({verb})"):
            response: dict[bytes, Any] = self._conn().select_folder(folder, readonly=readonly)
        uidvalidity = response.get(b"UIDVALIDITY")
        if not isinstance(uidvalidity, int):
            # RFC 3501 §6.3.1 makes UIDVALIDITY mandatory; without it a UID cursor would mean nothing.
            raise MailboxError(f"{self._where} opened folder {folder!r} without a UIDVALIDITY; "
                               "cannot track it")
        uidnext = response.get(b"UIDNEXT")
        exists = response.get(b"EXISTS")
        self._selected = (folder, readonly, uidvalidity)
        return FolderStatus(folder, uidvalidity, uidnext if isinstance(uidnext, int) else None,
                            exists if isinstance(exists, int) else None)

    def examine(self, folder: str) -> FolderStatus:
        """Open ``folder`` read-only (EXAMINE, RFC 3501 §6.3.2) and report UIDVALIDITY and UIDNEXT.

        Always asks the server afresh, so UIDNEXT is current: callers compare it with their cursor.
        """
        return self._open(folder, readonly=True)

    # -- reading ---------------------------------------------------------------------------------------------

    def fetch_headers_since(self, folder: str, last_uid: int, fields: Sequence[str], *, batch: int = 500,
                            expect_uidvalidity: int | None = None) -> Iterator[FetchedHeader]:
        """Yield the header fields of each message in ``folder`` with a UID above ``last_uid``, in UID order.

        Cost when nothing is new: one EXAMINE, whose UIDNEXT shows there is nothing above the cursor (a UID
        SEARCH only when UIDNEXT is missing or messages above the cursor were expunged). ``fields`` empty
        means the whole header. Pass ``expect_uidvalidity`` (the value the cursor was taken under) instead of
        calling :meth:`examine` first: a changed UIDVALIDITY then raises MailboxError instead of mixing UID
        spaces.
        Arguments are checked now; the server is asked when iteration starts.
        """
        if last_uid < 0:
            raise ValueError(f"last_uid must be >= 0, not {last_uid}")
        if batch < 1:
            raise ValueError(f"batch must be >= 1, not {batch}")
        names = [_check_field_name(f) for f in fields]
        # PEEK: RFC 3501 §6.4.5, a non-PEEK BODY[...] fetch would set \Seen on every message we look at.
        section = f"BODY.PEEK[HEADER.FIELDS ({' '.join(names)})]" if names else "BODY.PEEK[HEADER]"
        return self._iter_headers(folder, last_uid, section, batch, expect_uidvalidity)

    def _iter_headers(self, folder: str, last_uid: int, section: str, batch: int,
                      expect_uidvalidity: int | None) -> Iterator[FetchedHeader]:
        status = self._open(folder, readonly=True)  # fresh, so UIDNEXT and SEARCH see new arrivals
        uidvalidity = status.uidvalidity
        self._check_uidvalidity(folder, uidvalidity, expect_uidvalidity)
        # RFC 3501 §2.3.1.1: every existing message has a UID below UIDNEXT. Nothing new: no SEARCH at all.
        if status.uidnext is not None and status.uidnext <= last_uid + 1:
            return

        # imapclient 4.1's fetch() no longer takes a range string ("n:*"), so SEARCH for the UIDs first.
        # RFC 3501 §6.4.8: "a UID range of 559:* always includes the UID of the last message in the mailbox,
        # even if 559 is higher than any assigned UID value", so filter out what is not above the cursor.
        with self._errors(f"searching folder {folder!r} for new messages"):
            found = self._conn().search(["UID", f"{last_uid + 1}:*"])
        uids = sorted(uid for uid in found if uid > last_uid)
        items = [section, "INTERNALDATE", "RFC822.SIZE", "FLAGS"]
        if "X-GM-EXT-1" in self.capabilities():
            items += ["X-GM-MSGID", "X-GM-THRID"]  # Gmail's IMAP extensions: stable message and thread ids
        report = self.progress if len(uids) > batch else None  # one FETCH is quick: no progress for it
        if report is not None:
            report(folder, 0, len(uids))
        for start in range(0, len(uids), batch):
            chunk = uids[start:start + batch]
            # The caller may have used this connection between batches (another folder selected meanwhile):
            # the UIDs only mean something in this folder under this UIDVALIDITY.
            if self._still_open(folder) != uidvalidity:
                raise MailboxError(f"UIDVALIDITY of folder {folder!r} on {self._where} changed while "
                                   "reading it; the folder must be read again from the start")
            with self._errors(f"fetching headers from folder {folder!r}"):
                response = self._fetch_bulk(folder, chunk, items)
            headers = []
            for uid in chunk:
                data = response.get(uid)
                if data is None:
                    # Expunged by another client between SEARCH and FETCH: nothing to read any more.
                    logger.debug("%s: uid %d in %r vanished before it could be fetched",
                                 self._where, uid, folder)
                    continue
                headers.append(self._header_from(uid, data))
            yield from headers
            if report is not None:  # the caller has handled this batch when it asks for the next message
                report(folder, start + len(chunk), len(uids))

    def _fetch_bulk(self, folder: str, uids: Sequence[int], items: Sequence[str]) -> dict[int, dict[bytes, Any]]:
        """``UID FETCH`` of ``items`` on imapclient's own connection, its answer read by :mod:`fetchparse`.

        imapclient's ``fetch()`` would parse the answer with its character-by-character lexer, ~80 % of a
        first sync (see fetchparse). imaplib underneath still sends the command and frames every line and
        literal, and its errors are imapclient's (``IMAP4.error`` is ``IMAPClientError``), so
        :meth:`_errors` translates them as before. A message whose answer cannot be read is logged with its
        sequence number and left out, like one expunged meanwhile: one odd answer never stops the folder.
        """
        imap = self._conn()._imap
        typ, data = imap.uid("FETCH", _message_set(uids), "(" + " ".join(items) + ")")
        if typ != "OK":
            raise IMAPClientError(f"FETCH failed: {data[0] if data else typ!r}")
        wanted = set(uids)
        response: dict[int, dict[bytes, Any]] = {}
        for parsed in parse_fetch_data(data):
            if isinstance(parsed, FetchSyntaxError):
                logger.warning("%s: unreadable FETCH answer in folder %r (message number %s), skipped: %s",
                               self._where, folder, parsed.seq if parsed.seq is not None else "?", parsed)
                continue
            uid = parsed[1].get(b"UID")
            # Unsolicited FETCH answers (flag changes by another client, RFC 3501 §7.4.2) may name other
            # messages or carry no UID at all: only what we asked for counts.
            if isinstance(uid, int) and uid in wanted:
                response.setdefault(uid, {}).update(parsed[1])
        return response

    def _check_uidvalidity(self, folder: str, actual: int, expected: int | None) -> None:
        if expected is not None and actual != expected:
            raise MailboxError(f"UIDVALIDITY of folder {folder!r} on {self._where} is {actual}, not "
                               f"{expected}: its UIDs were renumbered and the folder must be read again "
                               "from the start")

    @staticmethod
    def _header_from(uid: int, data: dict[bytes, Any]) -> FetchedHeader:
        raw = b""
        for key, value in data.items():
            # The server echoes the section without ".PEEK" and with its own spelling of the field list.
            if isinstance(key, bytes) and key.upper().startswith(b"BODY[HEADER"):
                raw = bytes(value) if isinstance(value, bytes) else b""
                break
        internaldate = data.get(b"INTERNALDATE")
        if isinstance(internaldate, bytes):
            internaldate = parse_internaldate(internaldate)
        if isinstance(internaldate, datetime):
            internaldate = (internaldate.replace(tzinfo=UTC) if internaldate.tzinfo is None
                            else internaldate.astimezone(UTC))
        else:
            internaldate = None
        size = data.get(b"RFC822.SIZE")
        flags = tuple(bytes(f) for f in data.get(b"FLAGS") or () if isinstance(f, bytes))
        gm_msgid, gm_thrid = data.get(b"X-GM-MSGID"), data.get(b"X-GM-THRID")
        return FetchedHeader(uid=uid, raw=raw, internaldate=internaldate, size=size if isinstance(size, int)
                             else 0, flags=flags, gm_msgid=gm_msgid if isinstance(gm_msgid, int) else None,
                             gm_thrid=gm_thrid if isinstance(gm_thrid, int) else None)

    def search_header(self, folder: str, name: str, value: str) -> list[int]:
        """UIDs in ``folder`` whose header ``name`` contains ``value``, read-only.

        RFC 3501 §6.4.4: HEADER matches a case-insensitive substring, so callers wanting an exact match (an
        X-Followupd-Id) should use values that cannot be substrings of each other, or check the fetched
        header.
        """
        field = _check_field_name(name)
        self._open(folder, readonly=True)
        charset = None if value.isascii() else "UTF-8"
        with self._errors(f"searching folder {folder!r} for {field}"):
            found = self._conn().search(["HEADER", field, value], charset=charset)
        return sorted(int(uid) for uid in found)

    def fetch_header_fields(self, folder: str, uids: Sequence[int], fields: Sequence[str], *,
                            expect_uidvalidity: int | None = None) -> dict[int, bytes]:
        """``BODY.PEEK[HEADER.FIELDS (...)]`` of the given UIDs only: {uid: header block}; UIDs gone are absent.

        A second, narrow read for a few messages whose UIDs the caller already has: the engine reads Received
        chains (the bulkiest header fields: on bench/mailgen.py's realistic mail they double the bytes of the
        fields fetched, 5.1 -> 10.5 MB per 10k messages) only for the user's own delivered mail that shows no
        other trace of the tracking address.
        The folder is re-opened only when another one is selected; a changed UIDVALIDITY raises MailboxError.
        """
        if not uids:
            return {}
        names = [_check_field_name(f) for f in fields]
        self._check_uidvalidity(folder, self._still_open(folder), expect_uidvalidity)
        section = f"BODY.PEEK[HEADER.FIELDS ({' '.join(names)})]"
        with self._errors(f"fetching headers from folder {folder!r}"):
            response: dict[int, dict[bytes, Any]] = self._conn().fetch(list(uids), [section])
        return {uid: self._header_from(uid, data).raw for uid, data in response.items()}

    def fetch_full(self, folder: str, uid: int) -> bytes | None:
        """The whole message (``BODY.PEEK[]``, so ``\\Seen`` stays as it was), or None if the UID is gone.

        The folder is re-opened only when another one is selected: the caller knows the UID already, so no fresh
        view is needed, and re-opening is what costs. Measured on Dovecot's Maildir with 70k messages: EXAMINE
        then one body took 300 ms (the UID-to-file list is re-read on the first body of each selection), a
        body in an open folder 0.5 ms; a first sync reading a few thousand replies went from minutes to seconds.
        """
        return self.fetch_bodies(folder, [uid]).get(uid)

    #: Bodies asked for in one FETCH: a few hundred KB of ordinary mail, and a bounded answer for big ones.
    BODY_BATCH = 50

    def fetch_bodies(self, folder: str, uids: Sequence[int]) -> dict[int, bytes]:
        """The whole messages of ``uids`` (``BODY.PEEK[]``) as {uid: bytes}; UIDs gone are absent.

        One ``UID FETCH`` per :attr:`BODY_BATCH` messages instead of one per message, read by :mod:`fetchparse`
        (imapclient's lexer reads a body one character at a time: ~40 % of reading one). A first sync reads the
        bodies of thousands of replies, out-of-office notices and bounces; a round trip each was a tenth of a
        2,000-thread sync in a profile. The folder is re-opened only when another one is selected."""
        wanted = sorted(set(uids))
        if not wanted:
            return {}
        self._still_open(folder)
        bodies: dict[int, bytes] = {}
        for start in range(0, len(wanted), self.BODY_BATCH):
            chunk = wanted[start:start + self.BODY_BATCH]
            with self._errors(f"fetching {'message ' + str(chunk[0]) if len(chunk) == 1 else 'messages'} "
                              f"from folder {folder!r}"):
                response = self._fetch_bulk(folder, chunk, ["BODY.PEEK[]"])
            for uid, data in response.items():
                body = data.get(b"BODY[]")
                if isinstance(body, bytes):
                    bodies[uid] = body
        return bodies

    # -- writing ---------------------------------------------------------------------------------------------

    def append(self, folder: str, message: bytes, *, flags: Sequence[bytes] = (b"\\Draft",),
               msg_time: datetime | None = None) -> int | None:
        """Store ``message`` in ``folder`` (a draft, by default flagged ``\\Draft``); return its UID if told.

        The UID comes from the APPENDUID response code (UIDPLUS, RFC 4315 §3); a server without UIDPLUS gives
        none, and the caller finds the draft again by its Message-ID.
        """
        if msg_time is not None and msg_time.tzinfo is None:
            raise ValueError("msg_time must be timezone-aware; a naive time would be read as the host's zone")
        with self._errors(f"saving a message to folder {folder!r} (APPEND)"):
            response = self._conn().append(folder, message, flags=tuple(flags), msg_time=msg_time)
        text = response if isinstance(response, bytes) else str(response).encode("utf-8", "replace")
        match = _APPENDUID.search(text)
        if match is None:
            logger.debug("%s: APPEND to %r gave no APPENDUID: %r", self._where, folder, text)
            return None
        return int(match.group(2))

    def delete_messages(self, folder: str, uids: Sequence[int]) -> None:
        """Remove exactly ``uids`` from ``folder``: STORE +FLAGS \\Deleted, then UID EXPUNGE of those UIDs.

        Callers guarantee the UIDs are followupd's own messages (stale drafts). Without UIDPLUS the messages
        are only flagged ``\\Deleted``: a plain EXPUNGE (RFC 3501 §6.4.3) would also remove whatever the user
        has flagged ``\\Deleted`` elsewhere, which is not ours to decide; their client expunges them later.
        """
        wanted = sorted({int(uid) for uid in uids})
        if not wanted:
            return
        if any(uid < 1 for uid in wanted):
            raise ValueError(f"UIDs are positive integers, got {wanted}")
        self._open(folder, readonly=False)
        client = self._conn()
        with self._errors(f"flagging messages {wanted} in folder {folder!r} as deleted"):
            client.add_flags(wanted, [b"\\Deleted"], silent=True)
        if "UIDPLUS" not in self.capabilities():
            logger.warning("%s has no UIDPLUS: messages %s in %r are flagged \\Deleted but not expunged",
                           self._where, wanted, folder)
            return
        with self._errors(f"expunging messages {wanted} from folder {folder!r} (UID EXPUNGE)"):
            client.uid_expunge(wanted)

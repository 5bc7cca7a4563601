"""Making the mailbox agree with the database, exactly once: APPEND planned drafts and reminders, delete the
drafts of withdrawn touches, and notice drafts the user deleted without sending.

Every step is "record, then act, then confirm", each in its own transaction: a crash between acting and
confirming leaves a record whose message may or may not exist, so the next cycle looks for it first (by the
Message-ID recorded for it) and only APPENDs when it is not there. Only messages carrying an id recorded for
one of our touches are ever deleted.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.parser import BytesHeaderParser
from email.policy import compat32
from typing import TYPE_CHECKING, Protocol

from followupd.adapters import store as st
from followupd.adapters.faults import crash_point
from followupd.config import Config
from followupd.engine.schedule import replan_thread
from followupd.mail.headers import extract_message_ids
from followupd.planning import lifecycle

if TYPE_CHECKING:
    from followupd.adapters.imap import FetchedHeader, FolderStatus

logger = logging.getLogger("followupd.engine.drafts")  # logs as "followupd.drafts", as it always did

FOLLOWUPD_HEADER = "X-Followupd-Id"
#: A queued draft that vanished from Drafts is "skipped" only after this long: a mail client sending it may
#: delete the draft a moment before its copy lands in Sent, and we must not mistake a send for a skip.
MISSING_GRACE = timedelta(minutes=10)
#: Where reminders about the user's own promises go. RFC 3501 §5.1: every account has an INBOX.
REMINDER_FOLDER = "INBOX"
#: The headers a draft of ours is recognised by (see :class:`DraftsIndex`), read from Drafts in one pass.
DRAFT_FIELDS = ("X-FOLLOWUPD-ID", "MESSAGE-ID", "IN-REPLY-TO")
#: followupd_meta key: how Drafts looked when every queued draft was last found there (see ``_reconcile``).
DRAFTS_SEEN_KEY = "drafts_seen"


class DraftsPort(Protocol):
    """What drafting needs from the IMAP adapter."""

    def search_header(self, folder: str, name: str, value: str) -> list[int]: ...
    def append(self, folder: str, message: bytes, *, flags: Sequence[bytes] = ...,
               msg_time: datetime | None = None) -> int | None: ...
    def delete_messages(self, folder: str, uids: Sequence[int]) -> None: ...
    def examine(self, folder: str) -> FolderStatus: ...
    def fetch_headers_since(self, folder: str, last_uid: int, fields: tuple[str, ...], *, batch: int = 500,
                            expect_uidvalidity: int | None = None) -> Iterable[FetchedHeader]: ...


@dataclass
class DraftsIndex:
    """Which messages in Drafts carry which value of the headers we recognise our drafts by, read in one pass.

    One SEARCH and one FETCH per 500 messages, whatever the number of our drafts, where a SEARCH per draft and
    header made a quiet cycle with 300 waiting drafts cost 600+ commands (measured with bench/). Values are
    compared whole and case-insensitively; SEARCH HEADER compared substrings, but our ids are fixed-width
    precisely so that one never contains another, so whatever was found before is found now."""

    markers: dict[str, list[int]] = field(default_factory=dict)      # X-Followupd-Id (older drafts) -> UIDs
    message_ids: dict[str, list[int]] = field(default_factory=dict)  # Message-ID -> UIDs
    replies_to: dict[str, list[int]] = field(default_factory=dict)   # In-Reply-To id -> UIDs

    @classmethod
    def read(cls, mailbox: DraftsPort, folder: str) -> DraftsIndex:
        index = cls()
        parser = BytesHeaderParser(policy=compat32)
        for fetched in mailbox.fetch_headers_since(folder, 0, DRAFT_FIELDS):
            headers = parser.parsebytes(fetched.raw)
            for value in headers.get_all(FOLLOWUPD_HEADER, []):
                marker = " ".join(str(value).split()).lower()
                if marker:
                    index.markers.setdefault(marker, []).append(fetched.uid)
            for name, table in (("Message-ID", index.message_ids), ("In-Reply-To", index.replies_to)):
                for value in headers.get_all(name, []):
                    for message_id in extract_message_ids(str(value)):
                        table.setdefault(message_id.lower(), []).append(fetched.uid)
        return index

    def forget(self, uids: Iterable[int]) -> None:
        """Drop messages we just deleted: an edited draft is removed and re-appended under the same marker."""
        gone = set(uids)
        for table in (self.markers, self.message_ids, self.replies_to):
            for key in list(table):
                table[key] = [uid for uid in table[key] if uid not in gone]
                if not table[key]:
                    del table[key]

    def with_marker(self, marker: str) -> list[int]:
        """UIDs carrying exactly our ``marker`` (an X-Followupd-Id, as drafts of older versions and reminders do)."""
        return sorted(self.markers.get(marker.strip().lower(), ()))

    def ours(self, touch_id: str, message_id: str) -> list[int]:
        """UIDs of the draft of one touch: exactly its recorded Message-ID, or (a draft appended by an older
        version) exactly its X-Followupd-Id. The only test before deleting anything: ours alone."""
        found = set(self.markers.get(touch_id.strip().lower(), ()))
        if message_id:
            found |= set(self.message_ids.get(message_id.strip().lower(), ()))
        return sorted(found)

    def find(self, touch: st.Touch) -> int | None:
        """Our draft, or the user's edit of it (its newest UID): some clients drop unknown headers when
        re-saving a draft, so a draft with our Message-ID, or any draft replying to the thread, counts too."""
        for table, value in ((self.markers, touch.id), (self.message_ids, touch.message_id),
                             (self.replies_to, touch.thread.message_id)):
            uids = table.get(value.strip().lower()) if value else None
            if uids:
                return max(uids)
        return None


@dataclass
class DraftReport:
    drafted: list[str] = field(default_factory=list)
    reminded: list[str] = field(default_factory=list)  # reminders about the user's own promises
    withdrawn: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)



def append_once(mailbox: DraftsPort, folder: str, marker: str, raw: bytes, *, flags: Sequence[bytes],
                now: datetime, present: DraftsIndex | None = None, message_id: str = "") -> tuple[int | None, bool]:
    """APPEND ``raw`` unless it is already there (appended just before a crash).

    A draft is looked for by its recorded ``message_id`` (and by ``marker`` as an X-Followupd-Id, which drafts of
    older versions carry); a reminder, which never leaves the user's INBOX, by its ``marker`` alone. Returns
    (uid, appended). The search is what turns "record, then append, then confirm" into exactly once: a restart
    after the APPEND finds the message and only confirms it. ``present`` is the folder read once
    (:class:`DraftsIndex`) before a run of appends, instead of one SEARCH per message; it must have been read
    after the last crash, which holds because it is read afresh in every cycle."""
    if present is not None:
        existing = present.ours(marker, message_id) if message_id else present.with_marker(marker)
    else:
        existing = mailbox.search_header(folder, "Message-ID", message_id) if message_id else []
        existing = existing or mailbox.search_header(folder, FOLLOWUPD_HEADER, marker)
    if existing:
        return existing[0], False
    return mailbox.append(folder, raw, flags=flags, msg_time=now), True



class DraftsSync:
    """The acting half of drafting, after the cycle's transaction: Drafts and INBOX brought in line with it."""

    def __init__(self, config: Config) -> None:
        self.config = config

    def act(self, store: st.Store, mailbox: DraftsPort, drafts_folder: str | None, now: datetime,
            report: DraftReport) -> None:
        """Make Drafts match the database: APPEND planned drafts, delete withdrawn ones, notice deleted ones."""
        if drafts_folder is None:
            with store.read() as session:
                if st.touches_in_state(session, st.TOUCH_PLANNED):
                    logger.error("no Drafts folder found; set [folders] drafts in the config")
            self._append_reminders(store, mailbox, now)
            return
        index: list[DraftsIndex] = []

        def present() -> DraftsIndex:
            """Drafts read once, on first need, for cleanup and appends alike (a quiet cycle needs neither)."""
            if not index:
                index.append(DraftsIndex.read(mailbox, drafts_folder))
            return index[0]

        self._cleanup(store, mailbox, drafts_folder, present)
        self._append_planned(store, mailbox, drafts_folder, now, present)
        self._append_reminders(store, mailbox, now)  # after the draft, so the reminder never points at nothing
        self._reconcile(store, mailbox, drafts_folder, now, report)

    def _append_reminders(self, store: st.Store, mailbox: DraftsPort, now: datetime) -> None:
        """Planned reminders to INBOX, exactly once: searched for by their own full id before any APPEND.

        No flags: unread, so the user notices it. Only this exact id is searched for (see :func:`reminder_id`),
        and nothing in INBOX is ever deleted by followupd."""
        with store.read() as session:
            planned = [(r.id, r.raw, r.thread_id) for r in st.planned_reminders(session)]
        for rid, raw, thread_id in planned:
            crash_point("before_reminder_append")
            uid, appended = append_once(mailbox, REMINDER_FOLDER, rid, raw or b"", flags=(), now=now)
            if appended:
                logger.info("%s: reminder about your promise delivered to %s", thread_id, REMINDER_FOLDER)
                crash_point("after_reminder_append")
            with store.transaction() as session:
                reminder = session.get(st.Reminder, rid)
                if reminder is not None and lifecycle.reminder_delivered(reminder, uid=uid, now=now):
                    st.add_event(session, reminder.thread, at=now, kind="reminder_delivered",
                                 message_id=reminder.message_id,
                                 detail=f"reminder in {REMINDER_FOLDER}" + (f" (uid {uid})" if uid else ""))

    def _append_planned(self, store: st.Store, mailbox: DraftsPort, folder: str, now: datetime,
                        present: Callable[[], DraftsIndex]) -> None:
        with store.read() as session:
            planned = [(t.id, t.raw, t.thread_id, t.message_id)
                       for t in st.touches_in_state(session, st.TOUCH_PLANNED)]
        for tid, raw, thread_id, message_id in planned:
            crash_point("before_append")
            uid, appended = append_once(mailbox, folder, tid, raw or b"", flags=(b"\\Draft",), now=now,
                                        present=present(), message_id=message_id)
            if appended:
                logger.info("%s: follow-up draft queued in %s", thread_id, folder)
                crash_point("after_append")
            with store.transaction() as session:
                touch = session.get(st.Touch, tid)
                if touch is not None and lifecycle.draft_queued(touch, uid=uid, now=now):
                    st.add_event(session, touch.thread, at=now, kind="draft_queued", message_id=touch.message_id,
                                 detail=f"draft in {folder}" + (f" (uid {uid})" if uid else ""))

    def _cleanup(self, store: st.Store, mailbox: DraftsPort, folder: str,
                 present: Callable[[], DraftsIndex]) -> None:
        """Remove the drafts of withdrawn touches: only messages carrying exactly their recorded Message-ID (or,
        appended by an older version, their X-Followupd-Id), all of them in one deletion (a cycle where ten
        replies arrived removes ten drafts with three commands)."""
        with store.read() as session:
            pending = {t.id: t.message_id for t in st.touches_to_clean_up(session, sent_by_followupd=False)}
        if not pending:
            return
        ours = {tid: uids for tid, mid in pending.items() if (uids := present().ours(tid, mid))}
        if ours:
            doomed = sorted({uid for uids in ours.values() for uid in uids})
            mailbox.delete_messages(folder, doomed)
            present().forget(doomed)
            for tid in ours:
                logger.info("removed followupd draft %s from %s", tid, folder)
            crash_point("after_delete")
        with store.transaction() as session:
            for tid in pending:
                touch = session.get(st.Touch, tid)
                if touch is not None:
                    touch.cleanup_pending = False

    def _reconcile(self, store: st.Store, mailbox: DraftsPort, folder: str, now: datetime,
                   report: DraftReport) -> None:
        """A queued draft the user deleted without sending: skipped, and the next touch is planned.

        Costs one EXAMINE when Drafts is as it was when every queued draft was last found there: nothing was
        added (UIDNEXT would have grown) nor removed (EXISTS would have shrunk), so they still are. Otherwise
        Drafts is read once (:class:`DraftsIndex`), however many drafts wait."""
        with store.transaction() as session:
            ids = st.queued_touch_ids(session)
            if not ids:
                return
            seen = _drafts_state(folder, mailbox.examine(folder), ids)
            if seen is not None and st.get_meta(session, DRAFTS_SEEN_KEY) == seen:
                return
            queued = st.queued_touches(session)
            present = DraftsIndex.read(mailbox, folder)
            all_found = True
            for touch in queued:
                uid = present.find(touch)
                if uid is not None:
                    touch.missing_since = None
                    if touch.drafts_uid is not None and uid != touch.drafts_uid:
                        # A new UID means the user saved an edit: the review window starts again.
                        touch.drafts_uid = uid
                        touch.draft_changed_at = now
                        logger.info("%s: you edited the draft; its review window starts again", touch.id)
                    continue
                all_found = False
                if touch.missing_since is None:
                    touch.missing_since = now
                    continue
                if now - touch.missing_since < MISSING_GRACE:
                    continue
                thread = touch.thread
                lifecycle.draft_deleted(touch, thread, now=now)
                replan_thread(session, thread, self.config, now)
                st.add_event(session, thread, at=now, kind="draft_skipped", message_id=touch.message_id,
                             detail="the draft was deleted from Drafts without being sent")
                report.skipped.append(touch.id)
                logger.info("%s: draft %s was deleted without sending; counted as skipped", thread.id, touch.id)
            # Only a state in which every queued draft was found may be skipped next time; a missing one must be
            # looked for again until its grace period ends.
            st.set_meta(session, DRAFTS_SEEN_KEY, seen if seen is not None and all_found else "")


def _drafts_state(folder: str, status: FolderStatus, queued: Sequence[str]) -> str | None:
    """Drafts' UID space, UIDNEXT and message count, with the queued touches it was checked for; None when the
    server did not say (then Drafts is read every cycle). The touch ids are in it because a touch can become
    queued again without Drafts changing (a failed send the user retries), and must then be looked for."""
    if status.uidnext is None or status.exists is None:
        return None
    touches = hashlib.sha256("\n".join(queued).encode()).hexdigest()[:16]
    return f"{folder}|{status.uidvalidity}|{status.uidnext}|{status.exists}|{touches}"

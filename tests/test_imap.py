"""followupd.adapters.imap against a real Dovecot (one per session, a fresh user per test), plus the pure folder logic.

What matters most here is what the user would notice: nothing we read gets marked ``\\Seen``, nothing but the
UIDs we name gets deleted, and an incremental fetch returns exactly the new messages, no more, no less.
"""

from __future__ import annotations

import dataclasses
import logging
import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from dovecot import DovecotServer, MailUser

from followupd.adapters.imap import FetchedHeader, FolderStatus, Mailbox, ResolvedFolders
from followupd.adapters.imap_folders import ListedFolder as _ListedFolder
from followupd.adapters.imap_folders import resolve_listing as _resolve
from followupd.errors import AuthenticationError, MailboxError

FIELDS = ("MESSAGE-ID", "SUBJECT", "X-FOLLOWUPD-ID")

MakeMessage = Callable[..., bytes]


def _connect(user: MailUser, **overrides: object) -> Mailbox:
    options: dict[str, object] = {
        "host": user.host, "port": user.port, "tls": "none", "username": user.username,
        "password": user.password, "timeout": 10.0,
    }
    options.update(overrides)
    return Mailbox.connect(**options)  # type: ignore[arg-type]


@pytest.fixture
def mailbox(mail_user: MailUser) -> Iterator[Mailbox]:
    with _connect(mail_user) as box:
        yield box


def _uids(headers: Iterator[FetchedHeader]) -> list[int]:
    return [h.uid for h in headers]


# -- the harness itself --------------------------------------------------------------------------------------


def test_fresh_user_has_empty_standard_folders(dovecot: DovecotServer, mail_user: MailUser) -> None:
    snapshot = dovecot.snapshot(mail_user)
    assert {"INBOX", "Drafts", "Sent", "Archive", "Trash", "Junk"} <= snapshot.keys()
    assert all(messages == [] for messages in snapshot.values())


def test_users_created_back_to_back_can_log_in_at_once(dovecot: DovecotServer) -> None:
    # Regression: with one shared passwd-file, Dovecot (re-reading it at most once a second) did not know a
    # user created right after another user's login.
    for _ in range(3):
        user = dovecot.add_user()
        with dovecot.connect(user) as client:
            assert client.select_folder("INBOX", readonly=True)[b"EXISTS"] == 0


def test_harness_append_and_lmtp_detail_address(dovecot: DovecotServer, mail_user: MailUser,
                                                 make_message: MakeMessage) -> None:
    uid = dovecot.append(mail_user, "Sent", make_message(subject="kept copy"), flags=[b"\\Seen"])
    local, domain = mail_user.address.split("@")
    dovecot.deliver_lmtp(mail_user, make_message(subject="tracked"),
                         recipients=[f"{local}+followup@{domain}"])
    snapshot = dovecot.snapshot(mail_user)
    assert [(u, flags) for u, flags, _size in snapshot["Sent"]] == [(uid, (b"\\Seen",))]
    assert len(snapshot["INBOX"]) == 1


# -- connecting ----------------------------------------------------------------------------------------------


def test_login_ok_reports_capabilities(mailbox: Mailbox) -> None:
    caps = mailbox.capabilities()
    assert {"IMAP4REV1", "UIDPLUS", "SPECIAL-USE"} <= caps
    assert mailbox.idle_supported()


def test_login_refused_is_authentication_error(mail_user: MailUser) -> None:
    with pytest.raises(AuthenticationError) as info:
        _connect(mail_user, password="not-" + mail_user.password)
    message = str(info.value)
    assert f"{mail_user.host}:{mail_user.port}" in message
    assert mail_user.username in message
    assert mail_user.password not in message
    assert "AUTHENTICATIONFAILED" in message


def test_unknown_user_is_authentication_error(mail_user: MailUser) -> None:
    with pytest.raises(AuthenticationError):
        _connect(mail_user, username="nobody-here@example.test")


def test_closed_port_is_mailbox_error_naming_the_server(mail_user: MailUser) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound but not listening: connections are refused
        with pytest.raises(MailboxError) as info:
            _connect(mail_user, port=port)
    assert not isinstance(info.value, AuthenticationError)
    assert f"127.0.0.1:{port}" in str(info.value)
    assert mail_user.password not in str(info.value)


def test_implicit_tls_against_a_plain_port_is_mailbox_error(mail_user: MailUser) -> None:
    with pytest.raises(MailboxError, match="TLS") as info:
        _connect(mail_user, tls="implicit", timeout=5.0)
    assert f"{mail_user.host}:{mail_user.port}" in str(info.value)


def test_starttls_not_offered_is_mailbox_error(mail_user: MailUser) -> None:
    # The test server runs with ssl = no, so it does not announce STARTTLS; never fall back to plain text.
    with pytest.raises(MailboxError, match="STARTTLS"):
        _connect(mail_user, tls="starttls")


def test_unknown_tls_mode_is_a_programming_error(mail_user: MailUser) -> None:
    with pytest.raises(ValueError, match="tls"):
        _connect(mail_user, tls="ssl")


def test_logout_is_idempotent_and_closes(mail_user: MailUser) -> None:
    box = _connect(mail_user)
    box.logout()
    box.logout()
    with pytest.raises(MailboxError, match="closed"):
        box.examine("INBOX")


# -- folders -------------------------------------------------------------------------------------------------


def test_folders_resolved_via_special_use(mailbox: Mailbox) -> None:
    assert mailbox.resolve_folders(sent=None, drafts=None, watch=None) == ResolvedFolders(
        sent="Sent", drafts="Drafts", watch=("INBOX", "Archive"), archive="Archive"
    )


def test_configured_folders_are_kept_and_inbox_is_case_insensitive(mailbox: Mailbox) -> None:
    resolved = mailbox.resolve_folders(sent="Sent", drafts="Drafts", watch=("inbox", "Junk", "INBOX"))
    assert resolved.watch == ("INBOX", "Junk")
    assert (resolved.sent, resolved.drafts) == ("Sent", "Drafts")


def test_configured_but_missing_folder_names_it_and_lists_existing(mailbox: Mailbox,
                                                                   mail_user: MailUser) -> None:
    with pytest.raises(MailboxError) as info:
        mailbox.resolve_folders(sent="Sent Items", drafts=None, watch=None)
    message = str(info.value)
    assert "'Sent Items'" in message and "sent" in message
    assert f"{mail_user.host}:{mail_user.port}" in message
    assert "Existing folders:" in message and "'Drafts'" in message and "'INBOX'" in message


def test_configured_folder_with_wrong_case_gets_a_hint(mailbox: Mailbox) -> None:
    with pytest.raises(MailboxError, match="did you mean 'Archive'"):
        mailbox.resolve_folders(sent=None, drafts=None, watch=("archive",))


def _listing(*entries: tuple[str, str]) -> list[_ListedFolder]:
    return [_ListedFolder(name, frozenset(a.lower() for a in attrs.split())) for name, attrs in entries]


def test_gmail_all_mail_is_watched_instead_of_inbox_and_is_not_the_archive() -> None:
    gmail = _listing(
        ("INBOX", "\\HasNoChildren"), ("[Gmail]", "\\HasChildren \\Noselect"),
        ("[Gmail]/All Mail", "\\All \\HasNoChildren"), ("[Gmail]/Drafts", "\\Drafts \\HasNoChildren"),
        ("[Gmail]/Sent Mail", "\\HasNoChildren \\Sent"), ("[Gmail]/Trash", "\\Trash"),
    )
    assert _resolve(gmail, sent=None, drafts=None, watch=None, where="imap.gmail.com:993") == ResolvedFolders(
        sent="[Gmail]/Sent Mail", drafts="[Gmail]/Drafts", watch=("[Gmail]/All Mail",), archive=None
    )
    localized = _listing(("INBOX", ""), ("[Google Mail]/Alle Nachrichten", "\\All"),
                         ("[Google Mail]/Gesendet", "\\Sent"), ("[Google Mail]/Entw&APw-rfe", "\\Drafts"))
    assert _resolve(localized, sent=None, drafts=None, watch=None, where="imap.gmail.com:993") == ResolvedFolders(
        sent="[Google Mail]/Gesendet", drafts="[Google Mail]/Entw&APw-rfe",
        watch=("[Google Mail]/Alle Nachrichten",), archive=None)
    configured = _resolve(gmail, sent=None, drafts=None, watch=("INBOX",), where="imap.gmail.com:993")
    assert configured.watch == ("INBOX",)  # a configured watch list always wins


def test_name_fallbacks_without_special_use() -> None:
    courier = _listing(("INBOX", ""), ("INBOX.Sent", ""), ("INBOX.Drafts", ""), ("INBOX.Archive", ""))
    assert _resolve(courier, sent=None, drafts=None, watch=None, where="h:143") == ResolvedFolders(
        sent="INBOX.Sent", drafts="INBOX.Drafts", watch=("INBOX", "INBOX.Archive"), archive="INBOX.Archive"
    )
    outlook = _listing(("INBOX", ""), ("Sent Items", ""), ("Drafts", ""), ("Deleted Items", ""))
    assert _resolve(outlook, sent=None, drafts=None, watch=None, where="h:993") == ResolvedFolders(
        sent="Sent Items", drafts="Drafts", watch=("INBOX",), archive=None
    )


def test_no_sent_folder_at_all_is_none_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="followupd.adapters.imap"):
        resolved = _resolve(_listing(("INBOX", "")), sent=None, drafts=None, watch=None, where="h:1")
    assert (resolved.sent, resolved.drafts, resolved.watch) == (None, None, ("INBOX",))
    assert "no Sent folder" in caplog.text


def test_noselect_folder_cannot_be_configured() -> None:
    with pytest.raises(MailboxError, match="Noselect"):
        _resolve(_listing(("INBOX", ""), ("[Gmail]", "\\Noselect")), sent="[Gmail]", drafts=None, watch=None,
                 where="h:1")


def test_examine_returns_uidvalidity_and_uidnext(dovecot: DovecotServer, mail_user: MailUser,
                                                mailbox: Mailbox, make_message: MakeMessage) -> None:
    with dovecot.connect(mail_user) as client:
        expected = client.select_folder("INBOX", readonly=True)[b"UIDVALIDITY"]
    assert mailbox.examine("INBOX") == FolderStatus("INBOX", expected, 1)
    dovecot.append(mail_user, "INBOX", make_message())
    assert mailbox.examine("INBOX").uidnext == 2


def test_examine_missing_folder_is_mailbox_error(mailbox: Mailbox, mail_user: MailUser) -> None:
    with pytest.raises(MailboxError, match="'Nope'") as info:
        mailbox.examine("Nope")
    assert f"{mail_user.host}:{mail_user.port}" in str(info.value)


# -- reading -------------------------------------------------------------------------------------------------


def test_incremental_fetch_returns_only_uids_above_the_cursor(
        dovecot: DovecotServer, mail_user: MailUser, mailbox: Mailbox, make_message: MakeMessage) -> None:
    ids = [f"<m{i}@example.test>" for i in range(3)]
    uids = [dovecot.append(mail_user, "INBOX", make_message(message_id=mid, subject=f"n{i}"))
            for i, mid in enumerate(ids)]
    assert uids == [1, 2, 3]

    first = list(mailbox.fetch_headers_since("INBOX", 0, FIELDS))
    assert [h.uid for h in first] == [1, 2, 3]
    assert all(f"Message-ID: {mid}".encode() in h.raw for h, mid in zip(first, ids, strict=True))
    assert _uids(mailbox.fetch_headers_since("INBOX", 2, FIELDS)) == [3]


def test_cursor_at_highest_uid_returns_nothing_despite_the_n_star_quirk(
        dovecot: DovecotServer, mail_user: MailUser, mailbox: Mailbox, make_message: MakeMessage) -> None:
    for _ in range(3):
        dovecot.append(mail_user, "INBOX", make_message())
    # The quirk is real (RFC 3501 §6.4.8: "4:*" includes the last UID, 3, even though 4 is higher)...
    with dovecot.connect(mail_user) as client:
        client.select_folder("INBOX", readonly=True)
        assert client.search(["UID", "4:*"]) == [3]
    # ...and filtered out. Here UIDNEXT (4) already says "nothing new", so no SEARCH is even sent:
    assert _uids(mailbox.fetch_headers_since("INBOX", 3, FIELDS)) == []
    assert _uids(mailbox.fetch_headers_since("INBOX", 99, FIELDS)) == []


def test_newest_message_expunged_above_the_cursor_returns_nothing(
        dovecot: DovecotServer, mail_user: MailUser, mailbox: Mailbox, make_message: MakeMessage) -> None:
    # UIDNEXT (5) is above the cursor (3) but the only message above it is gone, so the SEARCH does run and
    # "4:*" answers with UID 3: the quirk must be filtered on this path.
    for _ in range(4):
        dovecot.append(mail_user, "INBOX", make_message())
    with dovecot.connect(mail_user) as client:
        client.select_folder("INBOX")
        client.delete_messages([4])
        client.uid_expunge([4])
    assert mailbox.examine("INBOX").uidnext == 5
    assert _uids(mailbox.fetch_headers_since("INBOX", 3, FIELDS)) == []


def test_reads_see_messages_added_while_the_folder_stays_selected(
        dovecot: DovecotServer, mail_user: MailUser, mailbox: Mailbox, make_message: MakeMessage) -> None:
    mailbox.search_header("Drafts", "X-Followupd-Id", "x")  # Drafts now selected on our connection
    uid = dovecot.append(mail_user, "Drafts", make_message(x_followupd_id="late-1"), flags=[b"\\Draft"])
    assert mailbox.search_header("Drafts", "X-Followupd-Id", "late-1") == [uid]
    assert mailbox.fetch_full("Drafts", uid) is not None
    mailbox.delete_messages("Drafts", [uid])
    assert dovecot.snapshot(mail_user)["Drafts"] == []


def test_new_arrival_after_examine_is_seen(dovecot: DovecotServer, mail_user: MailUser, mailbox: Mailbox,
                                           make_message: MakeMessage) -> None:
    dovecot.append(mail_user, "INBOX", make_message())
    mailbox.examine("INBOX")  # folder stays selected; its UIDNEXT (2) is stale after the next delivery
    dovecot.deliver_lmtp(mail_user, make_message(subject="late"))
    assert _uids(mailbox.fetch_headers_since("INBOX", 1, FIELDS)) == [2]


def test_fetch_in_batches_keeps_uid_order_and_only_requested_fields(
        dovecot: DovecotServer, mail_user: MailUser, mailbox: Mailbox, make_message: MakeMessage) -> None:
    for i in range(5):
        dovecot.append(mail_user, "Sent", make_message(subject=f"s{i}", to="bob@example.org"))
    headers = list(mailbox.fetch_headers_since("Sent", 0, ["Subject"], batch=2))
    assert [h.uid for h in headers] == [1, 2, 3, 4, 5]
    assert [h.raw.strip() for h in headers] == [f"Subject: s{i}".encode() for i in range(5)]
    assert all(h.size > len(h.raw) for h in headers)


def test_fetch_without_fields_returns_the_whole_header(dovecot: DovecotServer, mail_user: MailUser,
                                                       mailbox: Mailbox, make_message: MakeMessage) -> None:
    dovecot.append(mail_user, "INBOX", make_message(subject="all", body="BODY-TEXT"))
    (header,) = mailbox.fetch_headers_since("INBOX", 0, [])
    assert b"Subject: all" in header.raw and b"From: " in header.raw
    assert b"BODY-TEXT" not in header.raw


def test_fetch_rejects_field_names_that_would_break_the_command(mailbox: Mailbox) -> None:
    with pytest.raises(ValueError, match="header field"):
        mailbox.fetch_headers_since("INBOX", 0, ["SUBJECT)] BODY[TEXT"])


def test_internaldate_is_aware_utc(dovecot: DovecotServer, mail_user: MailUser, mailbox: Mailbox,
                                   make_message: MakeMessage) -> None:
    arrived = datetime(2026, 3, 4, 5, 6, 7, tzinfo=timezone(timedelta(hours=2)))
    dovecot.append(mail_user, "INBOX", make_message(), date=arrived)
    (header,) = mailbox.fetch_headers_since("INBOX", 0, FIELDS)
    assert header.internaldate == arrived
    assert header.internaldate is not None and header.internaldate.utcoffset() == timedelta(0)


def test_reading_never_sets_seen(dovecot: DovecotServer, mail_user: MailUser, mailbox: Mailbox,
                                 make_message: MakeMessage) -> None:
    dovecot.append(mail_user, "INBOX", make_message(x_followupd_id="r1"))
    dovecot.append(mail_user, "INBOX", make_message(), flags=[b"\\Flagged"])
    dovecot.deliver_lmtp(mail_user, make_message(subject="delivered"))
    before = dovecot.snapshot(mail_user)

    headers = list(mailbox.fetch_headers_since("INBOX", 0, FIELDS))
    assert not any(b"\\Seen" in h.flags for h in headers)
    assert b"\\Flagged" in headers[1].flags
    assert mailbox.search_header("INBOX", "X-Followupd-Id", "r1") == [1]
    full = mailbox.fetch_full("INBOX", 3)
    assert full is not None and b"delivered" in full

    after = dovecot.snapshot(mail_user)
    assert after == before
    assert not any(b"\\Seen" in flags for _uid, flags, _size in after["INBOX"])


def test_fetch_full_of_a_missing_uid_is_none(mailbox: Mailbox) -> None:
    assert mailbox.fetch_full("INBOX", 42) is None


def test_bodies_read_in_batches_are_the_single_reads_and_never_set_seen(
        dovecot: DovecotServer, mail_user: MailUser, mailbox: Mailbox, make_message: MakeMessage,
        monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(5):
        dovecot.append(mail_user, "INBOX", make_message(subject=f"body {i}", body=f"text {i}\n" * (i + 1)))
    before = dovecot.snapshot(mail_user)
    monkeypatch.setattr(Mailbox, "BODY_BATCH", 2)  # 3 FETCHes for 5 messages: the batches join up
    bodies = mailbox.fetch_bodies("INBOX", [5, 1, 3, 2, 4, 42])
    assert sorted(bodies) == [1, 2, 3, 4, 5]  # the missing UID is absent, as from fetch_full
    for uid, body in bodies.items():
        assert body == mailbox.fetch_full("INBOX", uid)
        assert f"body {uid - 1}".encode() in body
    assert mailbox.fetch_bodies("INBOX", []) == {}
    assert dovecot.snapshot(mail_user) == before  # BODY.PEEK: \Seen untouched


def test_fetch_survives_the_caller_selecting_another_folder_between_batches(
        dovecot: DovecotServer, mail_user: MailUser, mailbox: Mailbox, make_message: MakeMessage) -> None:
    for i in range(3):
        dovecot.append(mail_user, "INBOX", make_message(subject=f"in{i}"))
    dovecot.append(mail_user, "Drafts", make_message(subject="draft"), flags=[b"\\Draft"])
    seen = []
    for header in mailbox.fetch_headers_since("INBOX", 0, ["SUBJECT"], batch=1):
        seen.append(header.raw.strip())
        mailbox.search_header("Drafts", "Subject", "draft")  # selects Drafts under the generator's feet
    assert seen == [b"Subject: in0", b"Subject: in1", b"Subject: in2"]


def test_changed_uidvalidity_is_refused(mailbox: Mailbox) -> None:
    actual = mailbox.examine("INBOX").uidvalidity
    with pytest.raises(MailboxError, match="UIDVALIDITY"):
        list(mailbox.fetch_headers_since("INBOX", 0, FIELDS, expect_uidvalidity=actual + 1))


# -- writing -------------------------------------------------------------------------------------------------


def test_append_returns_uid_and_the_draft_is_flagged_draft(
        dovecot: DovecotServer, mail_user: MailUser, mailbox: Mailbox, make_message: MakeMessage) -> None:
    raw = make_message(subject="Re: quote", x_followupd_id="t1-1")
    uid = mailbox.append("Drafts", raw, msg_time=datetime(2026, 5, 1, 9, 0, tzinfo=UTC))
    assert uid == 1
    assert dovecot.snapshot(mail_user)["Drafts"] == [(1, (b"\\Draft",), len(raw))]
    assert mailbox.fetch_full("Drafts", 1) == raw
    (header,) = mailbox.fetch_headers_since("Drafts", 0, FIELDS)
    assert header.internaldate == datetime(2026, 5, 1, 9, 0, tzinfo=UTC)


def test_append_refuses_naive_time(mailbox: Mailbox, make_message: MakeMessage) -> None:
    with pytest.raises(ValueError, match="timezone"):
        mailbox.append("Drafts", make_message(), msg_time=datetime(2026, 5, 1, 9, 0))


def test_append_to_missing_folder_is_mailbox_error(mailbox: Mailbox, make_message: MakeMessage) -> None:
    with pytest.raises(MailboxError, match="'Entwürfe'"):
        mailbox.append("Entwürfe", make_message())


def test_search_header_finds_a_followupd_id(mailbox: Mailbox, make_message: MakeMessage) -> None:
    first = mailbox.append("Drafts", make_message(x_followupd_id="thread-7-touch-1"))
    second = mailbox.append("Drafts", make_message(x_followupd_id="thread-8-touch-1"))
    assert mailbox.search_header("Drafts", "X-Followupd-Id", "thread-7-touch-1") == [first]
    assert mailbox.search_header("Drafts", "X-Followupd-Id", "thread-8-touch-1") == [second]
    assert mailbox.search_header("Drafts", "X-Followupd-Id", "thread-9-touch-1") == []
    assert mailbox.search_header("INBOX", "X-Followupd-Id", "thread-7-touch-1") == []


def test_delete_messages_removes_only_the_given_uid(dovecot: DovecotServer, mail_user: MailUser,
                                                    mailbox: Mailbox, make_message: MakeMessage) -> None:
    ours_kept = mailbox.append("Drafts", make_message(subject="keep"))
    stale = mailbox.append("Drafts", make_message(subject="stale"))
    users_own = dovecot.append(mail_user, "Drafts", make_message(subject="user's draft"), flags=[b"\\Draft"])
    # Another client has flagged the user's draft \Deleted but not expunged yet: a plain EXPUNGE would eat it.
    with dovecot.connect(mail_user) as client:
        client.select_folder("Drafts")
        client.add_flags([users_own], [b"\\Deleted"])
    assert stale is not None

    mailbox.delete_messages("Drafts", [stale])

    drafts = dovecot.snapshot(mail_user)["Drafts"]
    assert [uid for uid, _flags, _size in drafts] == [ours_kept, users_own]
    assert dict((uid, flags) for uid, flags, _size in drafts)[users_own] == (b"\\Deleted", b"\\Draft")
    # Reading afterwards works: the connection went back to read-only for the fetch.
    assert _uids(mailbox.fetch_headers_since("Drafts", 0, FIELDS)) == [ours_kept, users_own]


def test_delete_nothing_is_a_no_op(dovecot: DovecotServer, mail_user: MailUser, mailbox: Mailbox) -> None:
    before = dovecot.snapshot(mail_user)
    mailbox.delete_messages("Drafts", [])
    assert dovecot.snapshot(mail_user) == before


# -- delivery and isolation ----------------------------------------------------------------------------------


def test_lmtp_delivery_lands_in_inbox(dovecot: DovecotServer, mail_user: MailUser, mailbox: Mailbox,
                                      make_message: MakeMessage) -> None:
    dovecot.deliver_lmtp(mail_user, make_message(subject="Re: your quote", in_reply_to="<q1@example.test>"))
    (header,) = mailbox.fetch_headers_since("INBOX", 0, ["SUBJECT", "IN-REPLY-TO", "DELIVERED-TO"])
    assert b"Subject: Re: your quote" in header.raw
    assert b"In-Reply-To: <q1@example.test>" in header.raw
    assert header.internaldate is not None
    assert abs(header.internaldate - datetime.now(UTC)) < timedelta(minutes=5)


def test_two_users_are_isolated(dovecot: DovecotServer, make_message: MakeMessage) -> None:
    alice, bob = dovecot.add_user(), dovecot.add_user()
    dovecot.append(alice, "INBOX", make_message(subject="for alice"))
    with _connect(bob) as box:
        assert _uids(box.fetch_headers_since("INBOX", 0, FIELDS)) == []
    with pytest.raises(AuthenticationError):
        _connect(dataclasses.replace(bob, password=alice.password))

"""Put generated mail into a throwaway Dovecot user's Maildir, fast, and add new mail the way mail arrives.

Seeding 100k messages through IMAP APPEND would take minutes; writing Maildir files (one file per message,
RFC-less but documented by Dovecot and qmail) into ``~/Maildir/cur`` before Dovecot first opens the mailbox
takes seconds, and is legitimate for a server that is thrown away afterwards. Dovecot then builds its index on
the first open: :func:`warm_up` forces that, and also fills Dovecot's header cache by fetching the very header
fields followupd asks for, so neither the baseline nor followupd pays for indexing; the bench excludes it from
both measurements and says so.

New mail during the benchmark arrives as in real life: LMTP for incoming mail, IMAP APPEND for the user's own
Sent copies (what a mail client does).
"""

from __future__ import annotations

import os
import smtplib
import time
from collections.abc import Iterable
from pathlib import Path

from imapclient import IMAPClient
from mailgen import INBOX, Msg

#: Dovecot's Maildir++ layout (mail_location = maildir:~/Maildir): INBOX is the root, others are ".Name".
_HOST = "bench"


def _folder_dir(maildir: Path, folder: str) -> Path:
    return maildir if folder == INBOX else maildir / f".{folder}"


def write_maildir(home: Path, messages: Iterable[Msg]) -> dict[str, int]:
    """Write every message as a Maildir file with its INTERNALDATE as mtime; owner as the home directory's.

    File names start with the message's time, and Dovecot hands out UIDs to new files in name order, so UIDs
    follow the dates as they would in a real mailbox. Line ends are LF (Dovecot's own Maildir format); ``S=``
    is the file size and ``W=`` the CRLF size, so Dovecot never has to stat or count.
    """
    stat = home.stat()
    uid, gid = stat.st_uid, stat.st_gid
    maildir = home / "Maildir"
    made: set[Path] = set()
    counts: dict[str, int] = {}
    for n, message in enumerate(messages):
        folder_dir = _folder_dir(maildir, message.folder)
        if folder_dir not in made:
            for sub in ("", "cur", "new", "tmp"):
                path = folder_dir / sub
                path.mkdir(parents=True, exist_ok=True)
                os.chown(path, uid, gid)
            if folder_dir != maildir:
                (folder_dir / "maildirfolder").touch()
            made.add(folder_dir)
        data = message.raw.replace(b"\r\n", b"\n")
        stamp = message.date.timestamp()
        name = f"{int(stamp)}.M{n:07d}P1.{_HOST},S={len(data)},W={len(message.raw)}:2,{''.join(sorted(message.flags))}"
        path = folder_dir / "cur" / name
        with open(path, "wb") as handle:
            handle.write(data)
        os.chown(path, uid, gid)
        os.utime(path, (stamp, stamp))
        counts[message.folder] = counts.get(message.folder, 0) + 1
    os.chown(maildir, uid, gid)
    return counts


def warm_up(client: IMAPClient, folders: Iterable[str], fetch_items: list[str]) -> dict[str, float]:
    """Open each folder (Dovecot indexes the Maildir) and fetch ``fetch_items`` once (fills its cache).

    Excluded from every measurement: it is what any long-lived mailbox already has. Returns seconds per folder.
    """
    took: dict[str, float] = {}
    for folder in folders:
        start = time.perf_counter()
        client.select_folder(folder, readonly=True)
        raw_fetch(client, fetch_items)
        took[folder] = time.perf_counter() - start
    return took


def raw_fetch(client: IMAPClient, items: list[str]) -> list[bytes]:
    """``UID FETCH 1:* (items)`` in one command; the raw untagged responses, unparsed.

    imapclient 4.1's ``fetch()`` would send ``1:*`` but then drops every result (it filters the answer by the
    integer UIDs asked for), so this goes one level down, to the same imaplib calls ``fetch()`` makes.
    """
    imap = client._imap
    tag = imap._command("UID", "FETCH", "1:*", "(" + " ".join(items) + ")")
    typ, data = imap._command_complete("FETCH", tag)
    if typ != "OK":
        raise RuntimeError(f"UID FETCH failed: {data!r}")
    typ, data = imap._untagged_response(typ, data, "FETCH")
    return [item for item in data if item is not None]


def deliver_lmtp(host: str, port: int, recipient: str, messages: Iterable[Msg]) -> int:
    """Deliver incoming mail through one LMTP session, like an MTA; returns how many were delivered."""
    delivered = 0
    with smtplib.LMTP(host, port, timeout=30) as lmtp:
        for message in messages:
            refused = lmtp.sendmail("sender@example.org", [recipient], message.raw)
            if refused:
                raise RuntimeError(f"LMTP refused {refused}")
            delivered += 1
    return delivered


def append_all(client: IMAPClient, messages: Iterable[Msg]) -> int:
    """APPEND each message to its folder (a mail client saving its Sent copy); returns how many."""
    appended = 0
    for message in messages:
        flags = [b"\\Seen"] if "S" in message.flags else []
        client.append(message.folder, message.raw, flags=flags, msg_time=message.date)
        appended += 1
    return appended

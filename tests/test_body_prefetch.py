"""Reading a batch's bodies up front (engine.context.BodyReader.prefetch): a prefetched body is the one a single
read would give, a body not prefetched (or a prefetch that failed, or a mailbox that cannot read many) is read
alone as before, and memory holds one batch. No mail server: a recording fake mailbox."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from dovecot import MailUser
from harness import PASSWORD_ENV, default_config
from mailfactory import make_message

from followupd.adapters.clock import FixedClock
from followupd.config import parse_config
from followupd.engine import sync as sync_module
from followupd.engine.context import BodyReader, CycleContext, SeenMessage
from followupd.engine.events import EventApplier
from followupd.engine.sync import FolderSync
from followupd.engine.tracking import Tracker
from followupd.errors import MailboxError
from followupd.mail.headers import MessageKind, parse_headers
from followupd.planning.matching import ThreadIndex

T0 = datetime(2026, 3, 10, 7, 0, tzinfo=UTC)


class SingleReader:
    """A mailbox that reads one body at a time (as tests' fakes and older ports do)."""

    def __init__(self, bodies: dict[tuple[str, int], bytes]) -> None:
        self.bodies = bodies
        self.single: list[tuple[str, int]] = []

    def fetch_full(self, folder: str, uid: int) -> bytes | None:
        self.single.append((folder, uid))
        return self.bodies.get((folder, uid))


class BatchReader(SingleReader):
    def __init__(self, bodies: dict[tuple[str, int], bytes], *, fail: bool = False) -> None:
        super().__init__(bodies)
        self.batches: list[tuple[str, list[int]]] = []
        self.fail = fail

    def fetch_bodies(self, folder: str, uids: list[int]) -> dict[int, bytes]:
        self.batches.append((folder, list(uids)))
        if self.fail:
            raise MailboxError("connection lost while reading")
        return {uid: body for (name, uid), body in self.bodies.items() if name == folder and uid in uids}


def seen(uid: int, folder: str = "INBOX") -> SeenMessage:
    return SeenMessage(folder, uid, parse_headers(make_message(subject=f"m{uid}")), T0, False)


BODIES = {("INBOX", uid): f"body {uid}".encode() for uid in (1, 2, 3)}


def test_prefetched_bodies_need_no_single_read() -> None:
    box = BatchReader(BODIES)
    reader = BodyReader(box)
    reader.prefetch("INBOX", [1, 2, 7])
    assert box.batches == [("INBOX", [1, 2, 7])]
    assert reader(seen(1)) == b"body 1"
    assert reader(seen(2)) == b"body 2"
    assert box.single == []
    # Left out of the answer (expunged meanwhile, or a server's quirk): asked for again on its own, as before the
    # read-ahead, so a body is never judged missing on the strength of a batch answer alone.
    assert reader(seen(7)) is None
    assert box.single == [("INBOX", 7)]
    assert reader(seen(3)) == b"body 3"  # not guessed: read alone, as before
    assert box.single == [("INBOX", 7), ("INBOX", 3)]


def test_the_next_prefetch_replaces_the_last_batch() -> None:
    box = BatchReader(BODIES)
    reader = BodyReader(box)
    reader.prefetch("INBOX", [1])
    reader.prefetch("INBOX", [2])
    assert reader(seen(1)) == b"body 1"
    assert box.single == [("INBOX", 1)]  # the first batch was let go


def test_a_failed_prefetch_leaves_each_body_to_its_own_read() -> None:
    box = BatchReader(BODIES, fail=True)
    reader = BodyReader(box)
    reader.prefetch("INBOX", [1, 2])
    assert reader(seen(2)) == b"body 2"
    assert box.single == [("INBOX", 2)]


def test_a_mailbox_that_reads_one_at_a_time_still_works() -> None:
    box = SingleReader(BODIES)
    reader = BodyReader(box)
    reader.prefetch("INBOX", [1, 2])
    assert reader(seen(1)) == b"body 1"
    assert box.single == [("INBOX", 1)]


def test_a_body_is_only_used_for_its_own_folder() -> None:
    box = BatchReader({**BODIES, ("Archive", 1): b"archived"})
    reader = BodyReader(box)
    reader.prefetch("INBOX", [1])
    assert reader(seen(1, "Archive")) == b"archived"
    assert box.single == [("Archive", 1)]


def test_the_sync_prefetches_small_reports_only_within_its_budget(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A bounce is always read (for the id it quotes); a big one, or one past the batch's byte budget, is left
    to its own read so memory stays bounded."""
    user = MailUser("127.0.0.1", 143, "me@example.test", "pw", 24)
    text = default_config(user, tmp_path).replace(f'password_env = "{PASSWORD_ENV}"', 'password_env = "PW"')
    config = parse_config(tomllib.loads(text), path=tmp_path / "config.toml", env={})
    context = CycleContext(config, FixedClock(T0))
    box = BatchReader({})
    events = EventApplier(context, BodyReader(box))
    sync = FolderSync(context, Tracker(context, events), events)
    monkeypatch.setattr(sync_module, "PREFETCH_BYTES", 250)
    bounce = make_message(**{"from": "MAILER-DAEMON@example.org", "subject": "Undelivered Mail Returned to Sender",
                             "content_type": 'multipart/report; report-type=delivery-status; boundary="b"'})
    batch = [SeenMessage("INBOX", uid, parse_headers(bounce), T0, False) for uid in (1, 2, 3, 4, 5)]
    assert all(seen.meta.kind is MessageKind.BOUNCE for seen in batch)
    sync._sizes = {1: 100, 2: sync_module.PREFETCH_LARGEST + 1, 3: 100, 4: 100, 5: 10}
    sync._prefetch_bodies(batch, ThreadIndex([]))
    assert box.batches == [("INBOX", [1, 3, 5])]  # 2 is too big; 4 would pass the 250-byte budget

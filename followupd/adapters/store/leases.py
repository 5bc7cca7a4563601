"""Account leases in PostgreSQL, so several ``followupd run`` processes can share the accounts of one database.

Each process (an *owner*, e.g. ``host:pid:random``) calls :meth:`LeaseBoard.claim` every third of the lease
period: it renews the leases it holds and takes free or expired ones. A process that dies, hangs or loses the
database stops renewing; its leases expire one period later and the others take them over. Never two writers:
a lease changes hands only once it has expired, decided by one atomic statement per account
(``INSERT ... ON CONFLICT DO UPDATE ... WHERE expired RETURNING``), so two claimers racing for an account cannot
both win.

Time is the database's ``now()``, never the local clock: hosts whose clocks disagree still agree on who holds
what. (Only the *length* of a period is measured locally, by the caller's renewal timer.)

Fair shares. Every claim also renews a heartbeat row (``followupd_lease_owners``); the live owners are those
whose heartbeat has not expired, counting ourselves. A process holds at most ``ceil(accounts / live owners)``:
with 4 accounts and 2 processes, 2 each. When a process joins, the others see one more live owner on their next
claim and stop renewing what exceeds their new share (the oldest leases are kept, so accounts do not hop
about); those leases expire and the newcomer takes them. So a rebalance takes about one lease period, and a
lease is never taken away from a holder that is still renewing it.

Fencing. A lease can expire under a process that stopped renewing without noticing (a long GC pause, a frozen
VM). :meth:`LeaseBoard.holds` is the check before starting work (pass a ``margin`` to refuse when the lease is
about to run out); :meth:`LeaseBoard.fence` goes further and checks inside the caller's own database
transaction while locking the lease row, so a takeover waits until that transaction has committed.

The tables live in the ``public`` schema, whatever per-account schemas the stores use, and are created if
missing. SQLite has no use for any of this: there a file lock keeps one writer per account.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from followupd.errors import StoreError

logger = logging.getLogger(__name__)

__all__ = ["LeaseBoard", "LeaseInfo"]

LEASES = "public.followupd_leases"
OWNERS = "public.followupd_lease_owners"
# pg_advisory_xact_lock key serialising the CREATE TABLEs (concurrent CREATE ... IF NOT EXISTS can still collide).
_CREATE_LOCK_KEY = 0x6C656173

_CREATE = [
    text(f"""CREATE TABLE IF NOT EXISTS {LEASES} (
        account     text PRIMARY KEY,
        owner       text NOT NULL,
        expires_at  timestamptz NOT NULL,
        acquired_at timestamptz NOT NULL)"""),
    text(f"""CREATE TABLE IF NOT EXISTS {OWNERS} (
        owner       text PRIMARY KEY,
        expires_at  timestamptz NOT NULL)"""),
]
_HEARTBEAT = text(f"""
    INSERT INTO {OWNERS} (owner, expires_at) VALUES (:owner, now() + make_interval(secs => :period))
    ON CONFLICT (owner) DO UPDATE SET expires_at = EXCLUDED.expires_at""")
# Heartbeats of owners gone for a day are of no use to anyone.
_FORGET_OWNERS = text(f"DELETE FROM {OWNERS} WHERE expires_at < now() - interval '1 day'")
_LIVE_OWNERS = text(f"SELECT count(*) FROM {OWNERS} WHERE expires_at > now()")
_STATE = text(f"""
    SELECT account, owner, expires_at > now() AS live, acquired_at FROM {LEASES}
    WHERE account = ANY(:accounts)""")
_RENEW = text(f"""
    UPDATE {LEASES} SET expires_at = now() + make_interval(secs => :period)
    WHERE owner = :owner AND account = ANY(:accounts) RETURNING account""")
# The race-free take: a new row, or an expired one; a live lease of someone else is left alone (no row returned).
_TAKE = text(f"""
    INSERT INTO {LEASES} AS lease (account, owner, expires_at, acquired_at)
    VALUES (:account, :owner, now() + make_interval(secs => :period), now())
    ON CONFLICT (account) DO UPDATE
        SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at, acquired_at = EXCLUDED.acquired_at
        WHERE lease.expires_at <= now()
    RETURNING lease.account""")
_HOLDS = text(f"""
    SELECT 1 FROM {LEASES}
    WHERE account = :account AND owner = :owner AND expires_at > now() + make_interval(secs => :margin)""")
_FENCE = text(f"""
    SELECT 1 FROM {LEASES} WHERE account = :account AND owner = :owner AND expires_at > now() FOR SHARE""")
_HOLDER = text(f"SELECT owner, expires_at FROM {LEASES} WHERE account = :account AND expires_at > now()")
_RELEASE = text(f"DELETE FROM {LEASES} WHERE account = :account AND owner = :owner")
_RELEASE_ALL = text(f"DELETE FROM {LEASES} WHERE owner = :owner")
_LEAVE = text(f"DELETE FROM {OWNERS} WHERE owner = :owner")


@dataclass(frozen=True)
class LeaseInfo:
    """Who runs an account, and until when (the database's time) unless they renew: for "run by X until T"."""

    owner: str
    expires_at: datetime


class LeaseBoard:
    """This process's view of the shared leases. Thread-safe (each call is its own database round trips).

    ``owner`` must be unique per process and stable for its life, e.g. ``f"{hostname}:{pid}:{random}"``;
    ``period`` is how long a lease lasts unrenewed: call :meth:`claim` every ``period / 3`` or so.
    """

    def __init__(self, url: str, *, owner: str, period: timedelta, rng: random.Random | None = None) -> None:
        if make_url(url).get_backend_name() != "postgresql":
            raise ValueError("leases need PostgreSQL; with SQLite a file lock keeps one writer per account")
        if not owner:
            raise ValueError("a lease owner needs a name")
        if period <= timedelta(0):
            raise ValueError(f"a lease period must be positive, not {period}")
        self.owner = owner
        self.period = period
        self._rng = rng or random.Random()
        # Autocommit: every statement is its own transaction, so now() is the time of that statement and no
        # row lock outlives it (a claim never holds one lease while waiting for another: no deadlocks).
        self.engine = create_engine(url, isolation_level="AUTOCOMMIT", pool_pre_ping=True, pool_size=2,
                                    max_overflow=4)
        self._where = make_url(url).render_as_string(hide_password=True)
        with self._connect("create the lease tables") as connection:
            # A real transaction for this one (the engine autocommits): the advisory lock lasts until commit.
            connection.execution_options(isolation_level="READ COMMITTED")
            with connection.begin():
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CREATE_LOCK_KEY})
                for statement in _CREATE:
                    connection.execute(statement)
        with self._connect("register with the lease board") as connection:
            self._heartbeat(connection)  # counted as a live owner from now, before its first claim

    # -- the interface the daemon uses -------------------------------------------------------------------------

    def claim(self, accounts: Sequence[str]) -> set[str]:
        """Renew the leases we hold (up to our fair share) and take free or expired ones (up to it); returns
        every account we hold now. An account missing from the result must not be worked on."""
        wanted = list(dict.fromkeys(accounts))
        if not wanted:
            return set()
        with self._connect("claim leases") as connection:
            self._heartbeat(connection)
            live = int(connection.execute(_LIVE_OWNERS).scalar_one())
            share = math.ceil(len(wanted) / max(live, 1))
            rows = {row.account: row for row in connection.execute(_STATE, {"accounts": wanted})}
            mine = sorted((row for row in rows.values() if row.owner == self.owner),
                          key=lambda row: (row.acquired_at, row.account))
            keep = [row.account for row in mine[:share]]
            held: set[str] = set()
            if keep:
                held.update(connection.execute(_RENEW, {"owner": self.owner, "accounts": keep,
                                                        "period": self._seconds}).scalars())
            if len(mine) > share:
                logger.info("leases: %d live followupd processes, %d accounts: leaving %s to expire for the others",
                            live, len(wanted), ", ".join(row.account for row in mine[share:]))
            free = [account for account in wanted
                    if account not in rows or (not rows[account].live and rows[account].owner != self.owner)]
            self._rng.shuffle(free)  # racing claimers spread over the free accounts instead of queueing on one
            for account in free:
                if len(held) >= share:
                    break
                taken = connection.execute(_TAKE, {"account": account, "owner": self.owner,
                                                   "period": self._seconds}).scalar()
                if taken is not None:
                    held.add(str(taken))
        return held

    def holds(self, account: str, *, margin: timedelta = timedelta(0)) -> bool:
        """Still ours, and valid for at least ``margin`` more (by the database's clock): the check before a
        cycle. A margin of what one piece of work may take keeps a lease from expiring in the middle of it.
        Fails closed: when the database cannot be asked, the lease cannot be proven, so the answer is False."""
        try:
            with self._connect("check a lease") as connection:
                found = connection.execute(_HOLDS, {"account": account, "owner": self.owner,
                                                    "margin": margin.total_seconds()}).first()
        except StoreError as exc:
            logger.warning("%s; treating the lease on %s as lost", exc, account)
            return False
        return found is not None

    def fence(self, connection: Connection | Session, account: str) -> bool:
        """Inside the caller's transaction on the same database (a SQLAlchemy Connection or Session): True while
        the lease is ours, and the lease row stays share-locked until that transaction ends, so nobody can take
        the account over before the caller's writes have committed. False: roll back and stop."""
        found = connection.execute(_FENCE, {"account": account, "owner": self.owner}).first()
        return found is not None

    def release(self, account: str) -> None:
        """Give an account up now (our lease only), so another process can take it on its next claim."""
        with self._connect("release a lease") as connection:
            connection.execute(_RELEASE, {"account": account, "owner": self.owner})

    def holder(self, account: str) -> LeaseInfo | None:
        """Who holds a live lease on ``account`` (maybe us), or None when nobody does."""
        with self._connect("look up a lease") as connection:
            row = connection.execute(_HOLDER, {"account": account}).first()
        return None if row is None else LeaseInfo(owner=str(row.owner), expires_at=row.expires_at)

    def close(self) -> None:
        """Leaving for good (a clean stop): release every lease and the heartbeat, so the others take over on
        their next claim instead of a period later. Best effort: if the database is gone, the leases expire."""
        try:
            with self._connect("release the leases") as connection:
                connection.execute(_RELEASE_ALL, {"owner": self.owner})
                connection.execute(_LEAVE, {"owner": self.owner})
        except StoreError as exc:
            logger.warning("%s; they expire within %s instead", exc, self.period)
        finally:
            self.engine.dispose()

    # -- helpers ---------------------------------------------------------------------------------------------------

    @property
    def _seconds(self) -> float:
        return self.period.total_seconds()

    def _heartbeat(self, connection: Connection) -> None:
        connection.execute(_HEARTBEAT, {"owner": self.owner, "period": self._seconds})
        connection.execute(_FORGET_OWNERS)

    @contextmanager
    def _connect(self, doing: str) -> Iterator[Connection]:
        """Database errors become one StoreError saying what we were doing and where (never the password)."""
        try:
            with self.engine.connect() as connection:
                yield connection
        except SQLAlchemyError as exc:
            raise StoreError(f"could not {doing} in {self._where}: {exc}") from exc

"""Account leases on a real PostgreSQL: fair split, takeover after expiry, fencing, and no double holders.

Periods are short (2 s) so expiry happens within a test; waits poll until a generous deadline rather than
sleeping a fixed time, and no assertion is about how fast anything went.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from followupd.adapters.store import Store
from followupd.adapters.store.leases import LeaseBoard
from followupd.errors import StoreError

PERIOD = timedelta(seconds=2)
ACCOUNTS = ["alice@example.org", "bob@example.org", "carol@example.org", "dave@example.org"]


@pytest.fixture
def url(postgres: Any) -> str:
    return str(postgres.create_database())


@pytest.fixture
def board(url: str) -> Iterator[Callable[..., LeaseBoard]]:
    """``board("a")``: a LeaseBoard owned by "a" on this test's database, closed after the test."""
    boards: list[LeaseBoard] = []

    def make(owner: str, period: timedelta = PERIOD) -> LeaseBoard:
        boards.append(LeaseBoard(url, owner=owner, period=period, rng=random.Random(owner)))
        return boards[-1]

    yield make
    for made in boards:
        made.engine.dispose()


def wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def owners_in_db(url: str) -> dict[str, str]:
    """account -> owner of every live lease, straight from the table."""
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT account, owner FROM public.followupd_leases WHERE expires_at > now()"))
        result = {row.account: row.owner for row in rows}
    engine.dispose()
    return result


def test_two_boards_split_four_accounts_two_and_two(board: Callable[..., LeaseBoard], url: str) -> None:
    a, b = board("host-a:1:aa"), board("host-b:2:bb")
    held_a = a.claim(ACCOUNTS)
    held_b = b.claim(ACCOUNTS)
    assert len(held_a) == 2 and len(held_b) == 2
    assert held_a | held_b == set(ACCOUNTS)
    assert a.claim(ACCOUNTS) == held_a and b.claim(ACCOUNTS) == held_b  # renewing keeps the same split
    assert owners_in_db(url) == {**dict.fromkeys(held_a, a.owner), **dict.fromkeys(held_b, b.owner)}
    taken = next(iter(held_b))
    info = a.holder(taken)
    assert info is not None and info.owner == "host-b:2:bb" and info.expires_at.tzinfo is not None
    assert not a.holds(taken) and b.holds(taken)


def test_a_board_that_stops_renewing_loses_its_accounts_to_the_other(board: Callable[..., LeaseBoard]) -> None:
    a, b = board("a"), board("b")
    held_a = a.claim(ACCOUNTS)
    held_b = b.claim(ACCOUNTS)
    # "a" hangs from here on. Until its leases expire, "b" must not take them, however often it claims.
    assert b.claim(ACCOUNTS) == held_b
    assert all(a.holds(account) for account in held_a)

    assert wait_for(lambda: b.claim(ACCOUNTS) == set(ACCOUNTS), timeout=PERIOD.total_seconds() * 4)
    assert not any(a.holds(account) for account in held_a)
    assert all((info := b.holder(account)) is not None and info.owner == "b" for account in ACCOUNTS)
    # "a" wakes up: it cannot renew what it lost; with "b" alive its share is 2, and all are taken.
    assert a.claim(ACCOUNTS) == set()


def test_holds_is_false_once_the_lease_expires(board: Callable[..., LeaseBoard]) -> None:
    a = board("a")
    assert a.claim(ACCOUNTS[:1]) == {ACCOUNTS[0]}
    assert a.holds(ACCOUNTS[0])
    assert not a.holds(ACCOUNTS[0], margin=PERIOD)  # valid, but not for a whole period more
    assert not a.holds(ACCOUNTS[1])                  # never claimed
    assert wait_for(lambda: not a.holds(ACCOUNTS[0]), timeout=PERIOD.total_seconds() * 3)
    assert a.holder(ACCOUNTS[0]) is None


def test_a_newcomer_gets_a_fair_share_once_the_extra_leases_expire(board: Callable[..., LeaseBoard]) -> None:
    a = board("a")
    assert a.claim(ACCOUNTS) == set(ACCOUNTS)  # alone: everything
    b = board("b")
    assert b.claim(ACCOUNTS) == set()          # all live, none taken away from a holder
    kept = a.claim(ACCOUNTS)                   # "a" sees two live owners: keeps 2, lets 2 expire
    assert len(kept) == 2
    assert b.claim(ACCOUNTS) == set()

    def both_claim() -> bool:  # as two running daemons do
        assert a.claim(ACCOUNTS) == kept
        return b.claim(ACCOUNTS) == set(ACCOUNTS) - kept

    assert wait_for(both_claim, timeout=PERIOD.total_seconds() * 4)


def test_close_hands_the_accounts_over_at_once(board: Callable[..., LeaseBoard]) -> None:
    a, b = board("a"), board("b")
    held_a = a.claim(ACCOUNTS)
    b.claim(ACCOUNTS)
    a.close()
    assert b.claim(ACCOUNTS) == set(ACCOUNTS)  # "a" left: one live owner, and its leases are gone
    assert all((info := b.holder(account)) is not None and info.owner == "b" for account in held_a)


def test_release_frees_one_account(board: Callable[..., LeaseBoard]) -> None:
    a = board("a")
    held_a = a.claim(ACCOUNTS[:2])  # alone: both
    given, kept = sorted(held_a)
    b = board("b")
    assert b.claim([given]) == set()  # live: not taken away
    a.release(given)
    assert not a.holds(given) and a.holds(kept)
    assert b.claim([given]) == {given}


def test_concurrent_claims_never_give_one_account_to_two_boards(board: Callable[..., LeaseBoard], url: str) -> None:
    accounts = [f"user{i}@example.org" for i in range(6)]
    boards = [board(f"board-{i}") for i in range(4)]
    rng = random.Random(7)
    engine = create_engine(url)
    rounds = 150
    try:
        for _round in range(rounds):
            # Free some accounts (released) and expire others (as if their holder hung), then everyone races.
            for account in rng.sample(accounts, 2):
                for each in boards:
                    each.release(account)
            with engine.begin() as conn:
                conn.execute(text("UPDATE public.followupd_leases SET expires_at = now() - interval '1 second' "
                                  "WHERE account = ANY(:accounts)"), {"accounts": rng.sample(accounts, 2)})
            start = threading.Barrier(len(boards))
            results: dict[str, set[str]] = {}
            errors: list[BaseException] = []

            def race(each: LeaseBoard, start: threading.Barrier = start, results: dict[str, set[str]] = results,
                     errors: list[BaseException] = errors) -> None:
                try:
                    start.wait(timeout=10)
                    results[each.owner] = each.claim(accounts)
                except BaseException as exc:
                    errors.append(exc)

            workers = [threading.Thread(target=race, args=(each,)) for each in boards]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join(timeout=30)
            assert errors == []
            claimed = [account for held in results.values() for account in held]
            assert len(claimed) == len(set(claimed)), results  # nobody holds an account another one holds
            assert all(len(held) <= 2 for held in results.values()), results  # ceil(6 / 4)
            live = owners_in_db(url)
            assert all(live[account] == owner for owner, held in results.items() for account in held)
    finally:
        engine.dispose()


def test_fence_holds_a_takeover_back_until_the_writers_transaction_ends(board: Callable[..., LeaseBoard], url: str,
                                                                        tmp_path: Any) -> None:
    short = timedelta(seconds=1)
    a = board("a", period=short)
    account = ACCOUNTS[0]
    assert a.claim([account]) == {account}
    store = Store(url)
    taken = threading.Event()
    got: list[set[str]] = []
    try:
        with store.transaction() as session:
            assert a.fence(session, account)  # the lease is ours: write, holding its row
            assert wait_for(lambda: not a.holds(account), timeout=short.total_seconds() * 4)  # ...and it expires
            b = board("b", period=short)
            a.engine.dispose()  # "a" is gone for good, heartbeat and all

            def take_over() -> None:
                got.append(b.claim([account]))
                taken.set()

            thief = threading.Thread(target=take_over)
            thief.start()
            assert not taken.wait(timeout=1.0)  # the takeover waits for our transaction
        thief.join(timeout=30)
        assert got == [{account}]
        with store.transaction() as session:
            assert not a.fence(session, account)
    finally:
        store.dispose()


def test_a_board_that_cannot_reach_the_database_holds_nothing(board: Callable[..., LeaseBoard], url: str,
                                                              postgres: Any) -> None:
    a = board("a")
    assert a.claim(ACCOUNTS) == set(ACCOUNTS)
    postgres.drop_database(url.rsplit("/", 1)[1])  # every connection cut, and nothing to reconnect to
    assert not a.holds(ACCOUNTS[0])  # cannot be proven, so not ours: fail closed
    with pytest.raises(StoreError, match="could not claim leases in postgresql"):
        a.claim(ACCOUNTS)


def test_leases_need_postgresql(tmp_path: Any) -> None:
    with pytest.raises(ValueError, match="need PostgreSQL"):
        LeaseBoard(f"sqlite:///{tmp_path / 'x.db'}", owner="a", period=PERIOD)

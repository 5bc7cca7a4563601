"""How long planning the cadence of 10,000 threads takes, in-process (there is no I/O to hide behind).

Two measurements:

* ``pure``: :func:`followupd.planning.cadence.due_time` for every thread (business days, holidays, the sending window,
  jitter), the function every plan goes through;
* ``replan``: the engine's real re-planning path (``Engine._replan``) after the cadence in the config changed,
  which re-plans every waiting thread in one cycle: rows loaded through SQLAlchemy, ``replan_thread`` on each,
  ``next_due`` written and flushed to SQLite. This is the worst case; a normal cycle re-plans only the threads
  it touched.
"""

from __future__ import annotations

import random
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from followupd.adapters import store as st
from followupd.adapters.clock import FixedClock
from followupd.config import load_config
from followupd.engine.cycle import CycleReport, Engine, thread_id_for
from followupd.planning.cadence import CadenceSettings, due_time

HOLIDAYS = frozenset({date(2026, 1, 1), date(2026, 4, 3), date(2026, 4, 6), date(2026, 5, 1), date(2026, 12, 25)})


def _synthetic(count: int, now: datetime, seed: int = 10) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        sent_at = now - timedelta(seconds=rng.uniform(3600, 60 * 86400))
        steps = rng.choice([0, 0, 0, 1, 1, 2, 3])
        last = sent_at + timedelta(days=4 * steps) if steps else None
        rows.append({"id": f"t{i:05d}", "sent_at": sent_at, "steps": steps,
                     "last": last if last is None or last < now else now - timedelta(hours=1),
                     "promised": (now + timedelta(days=rng.randint(1, 20))).date() if rng.random() < 0.05 else None})
    return rows


def time_pure(count: int, now: datetime) -> dict[str, float]:
    settings = CadenceSettings(send_days=frozenset(range(5)), send_start=datetime(2026, 1, 1, 9).time(),
                               send_end=datetime(2026, 1, 1, 17).time(), jitter=timedelta(minutes=45),
                               holidays=HOLIDAYS)
    tz = ZoneInfo("Europe/Berlin")
    rows = _synthetic(count, now)
    start = time.perf_counter()
    planned = 0
    for row in rows:
        if due_time(sent_at=row["sent_at"], last_touch_at=row["last"], touches_done=row["steps"],
                    promised=row["promised"], settings=settings, tz=tz, seed=row["id"]) is not None:
            planned += 1
    took = time.perf_counter() - start
    return {"threads": count, "seconds": took, "planned": planned}


def time_replan(count: int, now: datetime, config_path: Path, env: dict[str, str]) -> dict[str, float]:
    """``Engine._replan`` with a changed cadence fingerprint over ``count`` waiting threads in a fresh SQLite."""
    config = load_config(config_path, env)
    rows = _synthetic(count, now)
    with tempfile.TemporaryDirectory(prefix="followupd-bench-plan-") as tmp:
        store = st.Store(f"sqlite:///{Path(tmp) / 'plan.db'}")
        with store.transaction() as session:
            for row in rows:
                mid = f"<plan.{row['id']}@example.test>"
                session.add(st.Thread(
                    id=thread_id_for(mid), message_id=mid, subject=f"Proposal {row['id']}",
                    from_email="alex@example.test", to=[{"email": f"p{row['id']}@acme.example", "name": ""}],
                    cc=[], bcc=[], references=[], sent_at=row["sent_at"], first_seen_at=row["sent_at"],
                    state=st.WAITING, state_changed_at=row["sent_at"], touches=row["steps"], steps=row["steps"],
                    last_touch_at=row["last"], promised=row["promised"], problems=[], seen_in=[],
                    conversation_keys=[], answered_by=[], failed_recipients=[]))
        engine = Engine(config, store, clock=FixedClock(now))
        start = time.perf_counter()
        with store.transaction() as session:
            st.set_meta(session, "cadence_fingerprint", "changed")  # as after an edit of [cadence]
            report = CycleReport()
            engine._replan(session, report)
            session.flush()
        took = time.perf_counter() - start
        with store.read() as session:
            due = session.query(st.Thread).filter(st.Thread.next_due.is_not(None)).count()
        store.dispose()
    return {"threads": count, "seconds": took, "planned": due, "closed": len(report.changes)}


def run(count: int, now: datetime, config_path: Path, env: dict[str, str]) -> dict[str, Any]:
    return {"pure_due_time": time_pure(count, now), "engine_replan": time_replan(count, now, config_path, env),
            "at": now.astimezone(UTC).isoformat()}

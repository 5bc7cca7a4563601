"""How long the CLI makes the user wait: ``followupd --help`` and ``followupd status`` on 1,000 threads.

    python bench/cli.py [--runs 10] [--threads 1000] [--json out.json]

Each command is started as a user starts it (a new process, the installed console script), ``--runs`` times,
and the median wall time is reported, beside two floors measured in the same run on the same machine: the
interpreter starting and exiting (``python -c pass``), and the interpreter importing click, which any click
CLI pays before it can print its help. ``status`` reads a SQLite database holding ``--threads`` tracked
threads (with recipients, a promise and a next check-in) through a config whose server is never contacted.
Every command runs once untimed first, with bytecode writing on (as pip installs a package), so no run compiles
sources; ``--compare TREE`` times that tree's package the same way, interleaved in the same run.
Targets (issue 16): ``--help`` <= 150 ms, ``status`` <= 400 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {"help": 0.150, "status": 0.400}


def _config(workdir: Path) -> Path:
    path = workdir / "config.toml"
    path.write_text(f"""
[account]
host = "127.0.0.1"
port = 9
tls = "none"
username = "alex@example.test"
password_env = "FOLLOWUPD_BENCH_PASSWORD"

[identity]
name = "Alex Example"
addresses = ["alex@example.test"]
timezone = "Europe/Berlin"

[tracking]
address = "alex+followup@example.test"

[database]
url = "sqlite:///{workdir / 'state.db'}"
""")
    path.chmod(0o600)
    return path


def _fill(workdir: Path, threads: int) -> None:
    from followupd.adapters import store as st

    store = st.Store(f"sqlite:///{workdir / 'state.db'}")
    now = datetime(2026, 11, 9, 10, 0, tzinfo=UTC)
    try:
        with store.transaction() as session:
            for number in range(threads):
                sent = now - timedelta(days=number % 40, hours=number % 7)
                session.add(st.Thread(
                    id=f"{number:012x}", message_id=f"<bench-{number}@example.test>",
                    subject=f"Quote for job {number}: garden shed, fence and the gate", sent_at=sent,
                    first_seen_at=sent, from_email="alex@example.test",
                    to=[{"email": f"client{number}@example.org", "name": f"Client {number}"}],
                    promised=date(2026, 11, 20) if number % 5 == 0 else None,
                    next_due=now + timedelta(days=number % 9), touches=number % 4,
                    state=st.WAITING if number % 3 else st.REPLIED))
    finally:
        store.dispose()


def _median_walls(commands: dict[str, tuple[list[str], dict[str, str]]], runs: int) -> dict[str, dict[str, Any]]:
    """Each command ``runs`` times, interleaved (one of each, then again), so a load that comes and goes on a
    shared machine falls on all of them alike; the median wall time of each."""
    times: dict[str, list[float]] = {name: [] for name in commands}
    cpu: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, (command, env) in commands.items():
            before = _children_cpu()
            start = time.perf_counter()
            # Not in the checkout: `python -m` puts the working directory first on sys.path, which would
            # shadow the --compare tree with this one.
            proc = subprocess.run(command, env=env, capture_output=True, timeout=120, cwd=tempfile.gettempdir())
            times[name].append(time.perf_counter() - start)
            cpu[name].append(_children_cpu() - before)
            if proc.returncode != 0:
                raise RuntimeError(f"{command} exited {proc.returncode}: {proc.stderr.decode(errors='replace')}")
    return {name: {"median_s": round(statistics.median(t), 4), "runs_s": [round(x, 4) for x in t],
                   "cpu_median_s": round(statistics.median(cpu[name]), 4)}
            for name, t in times.items()}


def _children_cpu() -> float:
    """CPU seconds (user + system) of every child waited for so far. On a shared machine a command's wall time
    counts the time other jobs held the cores; its own CPU time much less so, hence both are reported."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(runs: int = 10, threads: int = 1_000, compare: Path | None = None) -> dict[str, Any]:
    script = Path(sys.executable).parent / "followupd"
    followupd = [str(script)] if script.exists() else [sys.executable, "-m", "followupd.cli"]
    if compare is not None:  # both trees started the same way: python -m, the tree first on the path
        followupd = [sys.executable, "-m", "followupd.cli"]
    with tempfile.TemporaryDirectory(prefix="followupd-bench-cli-") as tmp:
        workdir = Path(tmp)
        config = _config(workdir)
        _fill(workdir, threads)
        env = {**os.environ, "FOLLOWUPD_BENCH_PASSWORD": "unused", "XDG_DATA_HOME": str(workdir / "data")}
        # Timed as installed: pip writes every module's bytecode on install, so a user's followupd never compiles
        # its sources (or SQLAlchemy's) at start-up. With PYTHONDONTWRITEBYTECODE set (some CI and sandboxes) every
        # run would compile them all again, several times the import itself; the warm-up runs below write it.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        status = [*followupd, "--config", str(config), "status"]
        shown = subprocess.run(status, env=env, capture_output=True, text=True, check=True).stdout
        commands = {
            "python_start": ([sys.executable, "-c", "pass"], env),
            "python_import_click": ([sys.executable, "-c", "import click"], env),
            "help": ([*followupd, "--help"], env),
            "status": (status, env),
            "status_json": ([*status, "--json"], env),
        }
        if compare is not None:
            other = {**env, "PYTHONPATH": str(compare)}
            commands["compare_help"] = ([*followupd, "--help"], other)
            commands["compare_status"] = (status, other)
        for command, command_env in commands.values():  # warm: bytecode, page cache
            subprocess.run(command, env=command_env, capture_output=True, check=True)
        result: dict[str, Any] = {"threads": threads, "runs": runs, **_median_walls(commands, runs),
                                  "status_rows": len(shown.splitlines()) - 1}
        if compare is not None:
            result["compare"] = {"tree": str(compare), "help": result.pop("compare_help"),
                                 "status": result.pop("compare_status")}
    for key, limit in TARGETS.items():
        result[key]["target_s"] = limit
        result[key]["met"] = result[key]["median_s"] <= limit
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="followupd CLI start-up (see bench/README.md)")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1_000)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--compare", type=Path, default=None, metavar="TREE",
                        help="also time another checkout's followupd package (e.g. `git archive` of the base)")
    args = parser.parse_args(argv)
    result = run(args.runs, args.threads, args.compare)
    for key in ("python_start", "python_import_click", "help", "status", "status_json"):
        entry = result[key]
        verdict = "" if "met" not in entry else ("  met" if entry["met"] else "  MISSED") + \
            f" (target {entry['target_s'] * 1000:.0f} ms)"
        print(f"{key:<20} median {entry['median_s'] * 1000:6.0f} ms of {args.runs} (CPU "
              f"{entry['cpu_median_s'] * 1000:4.0f} ms){verdict}")
    print(f"status listed {result['status_rows']} threads")
    if "compare" in result:
        for key in ("help", "status"):
            entry = result["compare"][key]
            print(f"{key:<20} median {entry['median_s'] * 1000:6.0f} ms of {args.runs} (CPU "
                  f"{entry['cpu_median_s'] * 1000:4.0f} ms) in {args.compare}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

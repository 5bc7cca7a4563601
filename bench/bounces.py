"""Bounce recognition on real mail: the shared half of sisimai's ``set-of-emails`` read in place.

    python bench/bounces.py                      # table per mail-system family, misses listed, targets
    python bench/bounces.py --json FILE          # also every file's verdict as JSON
    python bench/bounces.py --compare            # side by side with flufl.bounce, when it is installed

The corpus lives outside the repository (``<repo>/../shared/corpora/bounces``, or ``--corpus``): public data we
measure against but never copy. Each message is read the way the daemon reads it: the header block is
classified first (``parse_headers``: what the engine fetches for every message), then the whole message goes
through ``classify_notice`` (a message whose text is a delivery notice is never a reply, whatever its headers
say) and ``parse_dsn``.

Per expected entry (one per bounced recipient, from the collection's own test suites):

* a *permanent* entry is **recognised** when the report names that recipient as permanently failed;
  it is **tied** when followupd can name the original: its Message-ID (the right one, where the collection
  knows it) or, for reports that carry none, the original's subject or the recipient for the
  subject + recipient + time rule;
* a non-permanent entry (delay, out-of-office, delivered, abuse feedback) is a **false failure** when the
  report names that recipient as permanently failed;
* a file is **read as a reply** when it would reach the reply path: classified as personal mail and not
  recognised as a notice by its text;
* a **crash** is any exception out of the readers, or an internal-error marker they recorded.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from followupd.mail import internal_errors  # noqa: E402
from followupd.mail.dsn import INTERNAL_ERROR, classify_notice, parse_dsn  # noqa: E402
from followupd.mail.headers import MessageKind, parse_headers  # noqa: E402

DEFAULT_CORPUS = ROOT.parent / "shared" / "corpora" / "bounces"
TARGET_RECOGNISED = 0.97


def family(name: str) -> str:
    """``lhost-exim-05.eml`` -> ``lhost-exim``: the collection names files by the mail system that wrote them."""
    stem = name.rsplit(".", 1)[0]
    return stem.rsplit("-", 1)[0]


def read_one(raw: bytes) -> dict[str, Any]:
    """What followupd makes of one message, as plain data."""
    internal_errors.clear()  # a bug the body reader swallowed inside parse_dsn shows only there
    meta = parse_headers(raw)
    notice = classify_notice(raw, meta)
    report = parse_dsn(raw)
    failed = sorted({r.address for r in report.permanent_failures}) if report else []
    others = sorted({r.address for r in report.recipients if not r.permanent}) if report else []
    return {
        "kind": meta.kind.value,
        "threaded": bool(meta.referenced_ids),
        "notice": notice,
        "failed": failed,
        "not_failed": others,
        "original_message_id": report.original_message_id if report else None,
        "original_subject": report.original_subject if report else "",
        "source": report.source if report else "",
        "internal_error": (any(INTERNAL_ERROR in p for p in meta.problems) or bool(report and report.internal_error)
                           or (notice or "").startswith(INTERNAL_ERROR) or bool(internal_errors.recorded())),
    }


def _is_delay_or_notice(entry: dict[str, Any]) -> bool:
    """A delay ("Action: delayed"), an out-of-office, a delivered report or abuse feedback: never a failure.

    The collection also counts as not permanent some reports that gave up after a 4.x.x ("I'm not going to try
    again; this message has been in the queue too long"): the message is gone, followupd reads a failure, and
    they are counted apart (``gave_up_temporary``), not as false failures."""
    return (str(entry.get("action") or "").lower() == "delayed" or entry.get("status") is None
            or entry["reason"] in ("vacation", "feedback", "delivered"))


def _same_address(a: str, b: str) -> bool:
    return a.strip().strip("<>").lower() == b.strip().strip("<>").lower()


def measure(corpus: Path) -> dict[str, Any]:
    expected: dict[str, list[dict[str, Any]]] = json.loads((corpus / "expected.json").read_text())
    per_family: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    misses: list[str] = []
    files: dict[str, Any] = {}
    started = time.perf_counter()
    for name in sorted(expected):
        raw = (corpus / name).read_bytes()
        fam = family(name)
        counts = per_family[fam]
        try:
            got = read_one(raw)
        except Exception as exc:
            counts["crashes"] += 1
            misses.append(f"{name}: CRASH {type(exc).__name__}: {exc}")
            continue
        files[name] = got
        if got["internal_error"]:
            counts["crashes"] += 1
            misses.append(f"{name}: internal-error marker")
        is_reply = got["kind"] == MessageKind.PERSONAL.value and got["notice"] is None
        # The engine reads the body of a report only when its headers say bounce/receipt, or when it is tied to
        # a thread by its threading headers (then a notice by its text is a bounce too).
        reached = got["kind"] in (MessageKind.BOUNCE.value, MessageKind.RECEIPT.value) or (
            got["notice"] is not None and got["threaded"])
        if is_reply:
            counts["replies"] += 1
            misses.append(f"{name}: read as a reply")
        for entry in expected[name]:
            recipient = entry["recipient"]
            hit = any(_same_address(recipient, a) for a in got["failed"]) and reached
            if entry["permanent"]:
                counts["permanent"] += 1
                if (not hit and entry["reason"] == "expired"
                        and any(_same_address(recipient, a) for a in got["not_failed"])):
                    counts["delay_labelled_expired"] += 1
                    misses.append(f"{name}: {recipient} (expired, {entry['status']}): the report says delivery"
                                  " is still being tried (a delay); followupd waits for the final report")
                elif hit and not is_reply:
                    counts["recognised"] += 1
                    want = entry["original_message_id"]
                    if want:
                        counts["with_id"] += 1
                        if got["original_message_id"] == want:
                            counts["tied"] += 1
                        else:
                            misses.append(f"{name}: {recipient}: original id {got['original_message_id']} "
                                          f"!= {want}")
                    else:
                        counts["without_id"] += 1
                        if got["original_message_id"] or got["original_subject"]:
                            counts["tied_by_subject"] += 1
                else:
                    misses.append(f"{name}: {recipient} ({entry['reason']}, {entry['status']}) not recognised"
                                  f" [kind={got['kind']}, source={got['source'] or '-'}, failed={got['failed']}]")
            else:
                counts["not_permanent"] += 1
                if hit and _is_delay_or_notice(entry):
                    counts["false_failures"] += 1
                    misses.append(f"{name}: {recipient} ({entry['reason']}) read as a permanent failure")
                elif hit:
                    counts["gave_up_temporary"] += 1
                    misses.append(f"{name}: {recipient} ({entry['reason']}, {entry['status']}): the report says the"
                                  " MTA gave up, so followupd reads a failure; the collection counts it temporary")
    elapsed = time.perf_counter() - started
    total: dict[str, int] = defaultdict(int)
    for counts in per_family.values():
        for key, value in counts.items():
            total[key] += value
    return {"families": {k: dict(v) for k, v in sorted(per_family.items())}, "total": dict(total),
            "misses": misses, "files": files, "seconds": elapsed, "messages": len(expected)}


def measure_flufl(corpus: Path) -> dict[str, Any] | None:
    """The same permanent-failure count from flufl.bounce (GNU Mailman's bounce detector), when installed."""
    try:
        from email import message_from_bytes

        from flufl.bounce import scan_message  # type: ignore[import-not-found]
    except ImportError:
        return None
    expected: dict[str, list[dict[str, Any]]] = json.loads((corpus / "expected.json").read_text())
    per_family: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    recognised: list[str] = []
    started = time.perf_counter()
    for name in sorted(expected):
        raw = (corpus / name).read_bytes()
        counts = per_family[family(name)]
        try:
            found = {a.decode("utf-8", "replace").lower() if isinstance(a, bytes) else str(a).lower()
                     for a in scan_message(message_from_bytes(raw))}
        except Exception:
            counts["crashes"] += 1
            found = set()
        for entry in expected[name]:
            hit = entry["recipient"].lower() in found
            if entry["permanent"]:
                counts["permanent"] += 1
                counts["recognised"] += int(hit)
                if hit:
                    recognised.append(f"{name}:{entry['recipient'].lower()}")
            else:
                counts["not_permanent"] += 1
                counts["false_failures"] += int(hit and _is_delay_or_notice(entry))
                counts["gave_up_temporary"] += int(hit and not _is_delay_or_notice(entry))
    elapsed = time.perf_counter() - started
    total: dict[str, int] = defaultdict(int)
    for counts in per_family.values():
        for key, value in counts.items():
            total[key] += value
    return {"families": {k: dict(v) for k, v in sorted(per_family.items())}, "total": dict(total),
            "seconds": elapsed, "recognised": recognised}


def _pct(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:5.1f} %" if whole else "    -  "


def print_report(result: dict[str, Any], flufl: dict[str, Any] | None) -> bool:
    fam = result["families"]
    other = flufl["families"] if flufl else {}
    head = f"{'family':24} {'perm':>4} {'recognised':>10} {'tied':>5} {'replies':>7} {'false':>5} {'crash':>5}"
    print(head + (f"   {'flufl.bounce':>12}" if flufl else ""))
    for name, counts in fam.items():
        line = (f"{name:24} {counts.get('permanent', 0):4} {counts.get('recognised', 0):10} "
                f"{counts.get('tied', 0) + counts.get('tied_by_subject', 0):5} {counts.get('replies', 0):7} "
                f"{counts.get('false_failures', 0):5} {counts.get('crashes', 0):5}")
        if flufl:
            line += f"   {other.get(name, {}).get('recognised', 0):12}"
        print(line)
    t = result["total"]
    perm = t.get("permanent", 0)
    delays = t.get("delay_labelled_expired", 0)
    rate = t.get("recognised", 0) / (perm - delays) if perm > delays else 1.0
    print()
    print(f"messages {result['messages']}, permanent failures {perm}, read in {result['seconds']:.2f} s")
    print(f"recognised            {t.get('recognised', 0):4} / {perm}  {_pct(t.get('recognised', 0), perm)}"
          "   (against the collection's labels)")
    print(f"  delay notices the collection labels 'expired' (the report: still trying)  {delays}")
    print(f"recognised, final reports only {t.get('recognised', 0):4} / {perm - delays}  "
          f"{_pct(t.get('recognised', 0), perm - delays)}   (target >= {TARGET_RECOGNISED:.0%})")
    print(f"  with the original's Message-ID tied right   {t.get('tied', 0)} / {t.get('with_id', 0)}")
    print(f"  without one, subject or id to tie by        {t.get('tied_by_subject', 0)} / {t.get('without_id', 0)}")
    print(f"read as replies       {t.get('replies', 0):4}   (target 0)")
    print(f"delays/OOO/feedback read as failures {t.get('false_failures', 0)} / {t.get('not_permanent', 0)}"
          f"   (target 0)")
    print(f"crashes / internal errors {t.get('crashes', 0)}   (target 0)")
    print(f"gave up after a 4.x.x, read as failures (the collection: temporary) {t.get('gave_up_temporary', 0)}")
    if flufl:
        ft = flufl["total"]
        print(f"flufl.bounce          {ft.get('recognised', 0):4} / {ft.get('permanent', 0)}  "
              f"{_pct(ft.get('recognised', 0), ft.get('permanent', 0))}, false failures "
              f"{ft.get('false_failures', 0)} / {ft.get('not_permanent', 0)} (and {ft.get('gave_up_temporary', 0)} "
              f"gave-ups), crashes {ft.get('crashes', 0)}, {flufl['seconds']:.2f} s")
        ours = {m.split(" ", 1)[0].rstrip(":") + ":" + m.split(" ", 2)[1] for m in result["misses"]
                if "not recognised" in m}
        extra = sorted(ours & set(flufl["recognised"]))
        print(f"  of followupd's misses, flufl.bounce recognises {len(extra)}: {', '.join(extra) or '-'}")
    if result["misses"]:
        print("\nmisses:")
        for miss in result["misses"]:
            print("  " + miss)
    ok = (rate >= TARGET_RECOGNISED and not t.get("replies") and not t.get("false_failures")
          and not t.get("crashes"))
    print("\ntargets " + ("met" if ok else "MISSED"))
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--compare", action="store_true", help="also run flufl.bounce on the same files")
    args = parser.parse_args()
    if not (args.corpus / "expected.json").is_file():
        print(f"no corpus at {args.corpus} (expected.json missing)", file=sys.stderr)
        return 2
    result = measure(args.corpus)
    flufl = measure_flufl(args.corpus) if args.compare else None
    ok = print_report(result, flufl)
    if args.json:
        args.json.write_text(json.dumps({"followupd": result, "flufl.bounce": flufl}, indent=1, sort_keys=True))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""How well followupd reads "this message expects an answer": precision and recall on the labelled corpus.

    python bench/asks.py [--part dev|heldout|all] [--corpus DIR] [--json FILE] [--misses]

The corpus is ``tests/data/asks/<part>/`` (format in tests/data/asks/README.md): real RFC 5322 messages in
English, German, French and Spanish, each labelled by a person with the direction ("sent" by the user, or
"received") and whether it expects an answer. ``dev`` is what the reader was tuned on; ``heldout`` was written by
someone else and never read while tuning: its figure is the honest one.

Printed per part: precision, recall and the confusion counts (true/false positives and negatives) of
``expects``, overall, per language and per direction, and milliseconds per message (the whole reader: headers,
MIME, quote stripping, sentences). ``--misses`` lists every wrong answer with the reader's reason and evidence.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from followupd.mail.asks import AskReading, read_ask  # noqa: E402

CORPUS = ROOT / "tests" / "data" / "asks"


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, expected: bool, got: bool) -> None:
        if expected and got:
            self.tp += 1
        elif got:
            self.fp += 1
        elif expected:
            self.fn += 1
        else:
            self.tn += 1

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    def as_dict(self) -> dict[str, Any]:
        return {"precision": round(self.precision, 3), "recall": round(self.recall, 3), "tp": self.tp, "fp": self.fp,
                "fn": self.fn, "tn": self.tn, "n": self.tp + self.fp + self.fn + self.tn}


@dataclass
class Result:
    name: str
    direction: str
    expected: bool
    why: str
    reading: AskReading


def read_part(part: Path) -> tuple[list[Result], float]:
    """Every labelled message of a part read once; returns the results and the ms per message."""
    labels = json.loads((part / "labels.json").read_text(encoding="utf-8"))
    own = tuple(labels["own_addresses"])
    items = sorted(labels["messages"].items())
    raws = [(name, (part / name).read_bytes(), label) for name, label in items]
    for _name, raw, label in raws[:5]:  # warm the lazy patterns and caches: we measure reading, not first use
        read_ask(raw, direction=label["direction"], own_addresses=own)
    results: list[Result] = []
    start = time.perf_counter()
    for name, raw, label in raws:
        reading = read_ask(raw, direction=label["direction"], own_addresses=own)
        results.append(Result(name, label["direction"], bool(label["expects"]), label.get("why", ""), reading))
    elapsed = time.perf_counter() - start
    return results, 1000 * elapsed / max(1, len(results))


def score(results: Iterable[Result]) -> dict[str, Counts]:
    """Counts overall ("all"), per language ("en", ...) and per direction ("sent", "received")."""
    table: dict[str, Counts] = {"all": Counts()}
    for result in results:
        for key in ("all", result.name.split("/", 1)[0], result.direction):
            table.setdefault(key, Counts()).add(result.expected, result.reading.expects)
    return table


def render(part: str, table: dict[str, Counts], ms: float) -> str:
    lines = [f"{part}: {table['all'].tp + table['all'].fp + table['all'].fn + table['all'].tn} messages, "
             f"{ms:.2f} ms per message",
             f"{'':10} {'precision':>9} {'recall':>7} {'TP':>4} {'FP':>4} {'FN':>4} {'TN':>4}"]
    order = ["all", "en", "de", "fr", "es", "xx", "sent", "received"]
    for key in [k for k in order if k in table] + sorted(k for k in table if k not in order):
        c = table[key]
        lines.append(f"{key:10} {c.precision:9.3f} {c.recall:7.3f} {c.tp:4} {c.fp:4} {c.fn:4} {c.tn:4}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--part", choices=("dev", "heldout", "all"), default="all")
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="the folder holding dev/ and heldout/")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--misses", action="store_true", help="list every wrong answer")
    args = parser.parse_args(argv)
    parts = ["dev", "heldout"] if args.part == "all" else [args.part]
    report: dict[str, Any] = {}
    for part in parts:
        folder = args.corpus / part
        if not (folder / "labels.json").exists():
            print(f"{part}: no labels.json, skipped")
            continue
        results, ms = read_part(folder)
        table = score(results)
        print(render(part, table, ms))
        if args.misses:
            for r in results:
                if r.expected != r.reading.expects:
                    kind = "FN" if r.expected else "FP"
                    print(f"  {kind} {r.name} ({r.direction}): {r.why} | read: {r.reading.reason}: "
                          f"{r.reading.evidence!r}")
        print()
        report[part] = {"ms_per_message": round(ms, 3), **{k: v.as_dict() for k, v in table.items()}}
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

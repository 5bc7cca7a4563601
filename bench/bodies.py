"""Reading the body of matched mail: the stdlib path followupd uses against mail-parser, on real bounces.

    python bench/bodies.py [--corpus DIR] [--rounds 3] [--json FILE]

The corpus lives outside the repository (``<repo>/../shared/corpora/bounces``): 333 real delivery reports and
automatic notices, read in place, never copied. Bounces are the hardest body mail followupd reads (nested
``multipart/report``, ``message/rfc822`` originals, odd charsets, HTML-only Exchange notices), and they are
exactly what the engine fetches whole (with replies and out-of-office notices that matched a thread).

Readers compared, on the same bytes, in one process:

- ``stdlib``: ``followupd.mail.bodytext.readable_text`` (compat32 parser, our part choice and decoding): what
  ``dsn.py`` reads prose bounces with.
- ``mail-parser``: ``mailparser.parse_from_bytes(raw)``, its text parts joined (``text_plain``, else
  ``text_html`` converted with our own ``html_to_text``, so only MIME walking and decoding differ).
- ``mail-parser body``: its ``body`` attribute as it comes (all text parts concatenated, HTML left as HTML).

Correct, per file: the text names every bounced recipient the collection's ``expected.json`` lists (a bounce
reader that cannot see the failed address in the text cannot report it). Also counted: empty results, raised
exceptions, HTML tags left in the text, U+FFFD replacement characters, and time per message.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from followupd.mail import internal_errors  # noqa: E402
from followupd.mail.bodytext import html_to_text, readable_text  # noqa: E402

DEFAULT_CORPUS = ROOT.parent / "shared" / "corpora" / "bounces"
_TAG = re.compile(r"<(?:html|body|div|p|table|br|span)\b", re.IGNORECASE)

Reader = Callable[[bytes], str]


def _stdlib(raw: bytes) -> str:
    return readable_text(raw)


def _mailparser_reader() -> tuple[Reader, Reader] | None:
    try:
        import mailparser  # type: ignore[import-untyped]
    except ImportError:
        return None
    logging.getLogger("mailparser").setLevel(logging.CRITICAL)  # it logs every defect at ERROR/WARNING

    def parts(raw: bytes) -> str:
        mail = mailparser.parse_from_bytes(raw)
        plain = [t for t in mail.text_plain if t.strip()]
        if plain:
            return "\n\n".join(plain)
        return "\n\n".join(html_to_text(t) for t in mail.text_html)

    def body(raw: bytes) -> str:
        return str(mailparser.parse_from_bytes(raw).body)

    return parts, body


def measure(corpus: Path, rounds: int) -> dict[str, Any]:
    expected: dict[str, list[dict[str, Any]]] = json.loads((corpus / "expected.json").read_text())
    files = sorted(name for name in expected if (corpus / name).is_file())
    raws = {name: (corpus / name).read_bytes() for name in files}
    readers: dict[str, Reader] = {"stdlib": _stdlib}
    found = _mailparser_reader()
    if found is not None:
        readers["mail-parser"], readers["mail-parser body"] = found
    internal_errors.clear()
    result: dict[str, Any] = {"files": len(files), "readers": {}}
    for label, reader in readers.items():
        times: list[float] = []
        row = {"correct": 0, "named_nothing": 0, "empty": 0, "raised": 0, "html_left": 0, "replacement_chars": 0,
               "misses": []}
        for name in files:
            raw = raws[name]
            best = float("inf")
            text = ""
            for _ in range(rounds):
                start = time.perf_counter()
                try:
                    text = reader(raw)
                except Exception as exc:  # counted: the point is to see which reader raises
                    text = ""
                    row["raised"] += 1 if _ == 0 else 0
                    row["misses"].append(f"{name}: raised {type(exc).__name__}")
                best = min(best, time.perf_counter() - start)
            times.append(best)
            wanted = {e["recipient"].lower() for e in expected[name] if e.get("recipient")}
            lowered = text.lower()
            if all(address in lowered for address in wanted):
                row["correct"] += 1
            else:
                row["named_nothing"] += 0 if any(a in lowered for a in wanted) else 1
                row["misses"].append(f"{name}: missing {sorted(a for a in wanted if a not in lowered)}")
            row["empty"] += 0 if text.strip() else 1
            row["html_left"] += 1 if _TAG.search(text) else 0
            row["replacement_chars"] += text.count("\ufffd")
        row["ms_total"] = round(sum(times) * 1000, 1)
        row["ms_median"] = round(statistics.median(times) * 1000, 3)
        row["ms_max"] = round(max(times) * 1000, 2)
        result["readers"][label] = row
    result["stdlib_internal_errors"] = internal_errors.recorded()
    return result


def print_report(result: dict[str, Any]) -> None:
    files = result["files"]
    print(f"{files} files; correct = the text names every bounced recipient the corpus lists")
    print(f"{'reader':18} {'correct':>8} {'none':>5} {'empty':>6} {'raised':>7} {'html':>5} {'U+FFFD':>7}"
          f" {'total ms':>9} {'median ms':>10} {'max ms':>8}")
    for label, row in result["readers"].items():
        print(f"{label:18} {row['correct']:>8} {row['named_nothing']:>5} {row['empty']:>6} {row['raised']:>7}"
              f" {row['html_left']:>5} {row['replacement_chars']:>7} {row['ms_total']:>9} {row['ms_median']:>10}"
              f" {row['ms_max']:>8}")
    stdlib = set(result["readers"]["stdlib"]["misses"])
    for label, row in result["readers"].items():
        if label != "stdlib":
            only = sorted({m.split(":")[0] for m in stdlib} - {m.split(":")[0] for m in row["misses"]})
            print(f"files only {label} reads correctly: {len(only)} {only[:10]}")
    print(f"internal errors recorded by the stdlib path: {result['stdlib_internal_errors'] or 'none'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--rounds", type=int, default=3, help="runs per file; the fastest counts")
    parser.add_argument("--json", type=Path, help="write the full result here")
    args = parser.parse_args()
    if not (args.corpus / "expected.json").is_file():
        print(f"no corpus at {args.corpus} (expected.json missing)", file=sys.stderr)
        return 2
    result = measure(args.corpus, max(1, args.rounds))
    print_report(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The two readers issue 16 replaced, against what they replaced, in one process on the same bytes.

    python bench/parsers.py [--messages 10000] [--json out.json]

No server: the FETCH answers are built as imaplib hands them over (``(line ending in {N}, header)`` and ``)``)
from bench/mailgen.py's realistic header blocks, cut to the fields followupd fetches. Ratios from one process
hold on a busy machine where wall times of whole runs do not.

- FETCH answers: imapclient's ``parse_fetch_response`` (its per-character lexer) vs ``followupd.adapters.fetchparse``.
- Header blocks: the stdlib compat32 ``BytesHeaderParser`` vs ``followupd.mail.headerblock.split_plain`` (which
  declines, and leaves the stdlib to it, for any block the stdlib would report a defect in); and the whole
  ``followupd.mail.headers.parse_headers`` per message.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from email import policy
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "bench"), str(ROOT / "tests")]

import mailgen  # noqa: E402
from imapclient.response_parser import parse_fetch_response  # noqa: E402

from followupd.adapters.fetchparse import parse_fetch_data  # noqa: E402
from followupd.mail.headerblock import split_plain  # noqa: E402
from followupd.mail.headers import FETCH_HEADER_FIELDS, parse_headers  # noqa: E402


def _fetched(raw: bytes) -> bytes:
    wanted = {f.lower().encode() for f in FETCH_HEADER_FIELDS}
    head = raw.split(b"\r\n\r\n", 1)[0]
    out, keep = [], False
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t"):
            if keep:
                out.append(line)
            continue
        keep = line.split(b":", 1)[0].strip().lower() in wanted
        if keep:
            out.append(line)
    return b"\r\n".join(out) + b"\r\n\r\n"


def _best(func: Any, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def run(messages: int = 10_000) -> dict[str, Any]:
    box = mailgen.build(total=messages, threads=100, user="alex@example.test",
                        tracking="alex+followup@example.test", now=datetime(2026, 3, 10, 7, 0, tzinfo=UTC))
    blocks = [_fetched(m.raw) for m in box.messages]
    section = f"BODY[HEADER.FIELDS ({' '.join(FETCH_HEADER_FIELDS)})]".encode()
    data: list[Any] = []
    for seq, block in enumerate(blocks, start=1):
        data.append((b'%d (UID %d INTERNALDATE "10-Mar-2026 07:00:00 +0000" RFC822.SIZE %d FLAGS (\\Seen) %s {%d}'
                     % (seq, seq + 100, len(block) * 3, section, len(block)), block))
        data.append(b")")
    stdlib = BytesHeaderParser(policy=policy.compat32)
    result = {
        "messages": len(blocks),
        "header_mb": round(sum(map(len, blocks)) / 2**20, 2),
        "fetch_imapclient_s": _best(lambda: parse_fetch_response(data, False, True)),
        "fetch_followupd_s": _best(lambda: list(parse_fetch_data(data))),
        "headers_stdlib_s": _best(lambda: [stdlib.parsebytes(b).raw_items() for b in blocks]),
        "headers_split_plain_s": _best(lambda: [split_plain(b) for b in blocks]),
        "parse_headers_s": _best(lambda: [parse_headers(b) for b in blocks]),
        "split_plain_declined": sum(split_plain(b) is None for b in blocks),
    }
    for key in list(result):
        if key.endswith("_s"):
            result[key] = round(result[key], 4)
    result["fetch_speed_up"] = round(result["fetch_imapclient_s"] / result["fetch_followupd_s"], 1)
    result["headers_speed_up"] = round(result["headers_stdlib_s"] / result["headers_split_plain_s"], 1)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="followupd's FETCH and header readers vs what they replaced")
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    result = run(args.messages)
    n = result["messages"]
    print(f"{n} messages, {result['header_mb']} MB of fetched headers")
    print(f"FETCH answers: imapclient {result['fetch_imapclient_s']:.3f} s, followupd.adapters.fetchparse "
          f"{result['fetch_followupd_s']:.3f} s ({result['fetch_speed_up']}x)")
    print(f"header blocks: stdlib compat32 {result['headers_stdlib_s']:.3f} s, headerblock.split_plain "
          f"{result['headers_split_plain_s']:.3f} s ({result['headers_speed_up']}x; declined "
          f"{result['split_plain_declined']})")
    print(f"parse_headers, all of it: {result['parse_headers_s']:.3f} s ({result['parse_headers_s'] / n * 1e6:.0f} "
          "us a message)")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Quote and signature stripping for the asks reader: ours (bodytext.strip_quoted) against the maintained libraries.

    python bench/asks_quotes.py [--part dev] [--misses NAME]

Every reader gets the same input: the message's whole readable text (``bodytext.readable_text``: the text/plain
part, or the HTML converted with blockquotes ``>``-quoted), so only the stripping differs. Compared:

- ``ours``: ``followupd.mail.bodytext.strip_quoted`` (what followupd uses for replies already).
- ``mail-parser-reply`` (alfonsrv, MIT, release 1.36 of 2025-12): ``EmailReplyParser(languages=[en, de, fr, es])
  .parse_reply(text)``.
- ``email-reply-parser`` (Zapier, MIT, last release 0.5.12 of 2020-10): ``EmailReplyParser.parse_reply(text)``.
- ``quotequail`` (Close, MIT, release 0.5.4 of 2026-09): the parts ``quotequail.quote(text)`` marks as not quoted.

Ground truth is ``tests/data/asks/<part>/new_text.json``: per message the new text as its author wrote it, the
quoted history (or forwarded message) under it, and the signature the client added. Per reader: messages whose
new text is complete (every line kept), whose history is gone (no line of it kept), whose signature is gone, and
all three ("right"); then the asks reader's precision and recall on the part with that reader in place of ours
(the figure that matters), and ms per message. A library that is not installed is skipped.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import asks as ask_bench  # noqa: E402

from followupd.mail import asks as asks_module  # noqa: E402
from followupd.mail.bodytext import readable_text, strip_quoted  # noqa: E402

Stripper = Callable[[str], str]


def strippers() -> dict[str, Stripper]:
    found: dict[str, Stripper] = {"ours": strip_quoted}
    try:
        from mailparser_reply import EmailReplyParser as Multi  # type: ignore[import-not-found,unused-ignore]

        multi = Multi(languages=["en", "de", "fr", "es"])
        found["mail-parser-reply"] = lambda text: multi.parse_reply(text) or ""
    except ImportError:
        pass
    try:
        from email_reply_parser import EmailReplyParser as Zapier  # type: ignore[import-not-found,unused-ignore]

        found["email-reply-parser"] = lambda text: Zapier.parse_reply(text) or ""
    except ImportError:
        pass
    try:
        import quotequail  # type: ignore[import-not-found,unused-ignore]

        found["quotequail"] = lambda text: "\n".join(part for shown, part in quotequail.quote(text) if shown)
    except ImportError:
        pass
    return found


def _lines(text: str) -> list[str]:
    """Lines worth comparing: whitespace squeezed, ``>`` prefixes gone, punctuation-only lines dropped."""
    out = []
    for line in text.split("\n"):
        line = " ".join(line.lstrip("> ").split())
        if any(ch.isalnum() for ch in line):
            out.append(line)
    return out


def judge(got: str, truth: dict[str, str]) -> tuple[bool, bool, bool]:
    """(new text complete, history gone, signature gone) for one reader's output."""
    kept = " ".join(" ".join(got.replace(">", " ").split()).split())
    complete = all(line in kept for line in _lines(truth["new"]))
    history_gone = not any(line in kept for line in _lines(truth["history"]) if len(line) > 12)
    signature_gone = not any(line in kept for line in _lines(truth["signature"]) if len(line) > 12)
    return complete, history_gone, signature_gone


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--part", default="dev")
    parser.add_argument("--misses", help="print the wrong outputs of this reader")
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)
    folder = ask_bench.CORPUS / args.part
    truths: dict[str, dict[str, str]] = json.loads((folder / "new_text.json").read_text(encoding="utf-8"))
    texts = {name: readable_text((folder / name).read_bytes()) for name in sorted(truths)}
    print(f"{args.part}: {len(texts)} messages, {sum(1 for t in truths.values() if t['history'])} with quoted or "
          f"forwarded history, {sum(1 for t in truths.values() if t['signature'])} with a signature\n")
    print(f"{'reader':20} {'complete':>8} {'no hist.':>8} {'no sig.':>8} {'right':>6} {'ms/msg':>7} "
          f"{'asks P':>7} {'asks R':>7}")
    original = asks_module.message_text
    for name, strip in strippers().items():
        counts = [0, 0, 0, 0]
        start = time.perf_counter()
        outputs = {key: strip(text) for key, text in texts.items()}
        ms = 1000 * (time.perf_counter() - start) / max(1, len(texts))
        for key, got in outputs.items():
            verdict = judge(got, truths[key])
            for i, ok in enumerate((*verdict, all(verdict))):
                counts[i] += ok
            if args.misses == name and not all(verdict):
                print(f"  {key}: complete={verdict[0]} history_gone={verdict[1]} signature_gone={verdict[2]}\n"
                      f"    {got[:300]!r}")
        asks_module.message_text = lambda raw, strip=strip, **_: strip(readable_text(raw))  # type: ignore[misc]
        try:
            results, _ = ask_bench.read_part(folder)
        finally:
            asks_module.message_text = original  # type: ignore[misc]
        table = ask_bench.score(results)["all"]
        print(f"{name:20} {counts[0]:8} {counts[1]:8} {counts[2]:8} {counts[3]:6} {ms:7.3f} "
              f"{table.precision:7.3f} {table.recall:7.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

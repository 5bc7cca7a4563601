"""What a user would write instead of followupd: read every header of the watched folders with imap-tools.

Run by bench/run.py as its own process, as a user's script would run (interpreter start, import, LOGIN
included in the wall time the bench measures from outside), on the same mailbox in the same run:

    python bench/race.py --port P --user U --password-env VAR Sent INBOX Archive

imap-tools' ``fetch(headers_only=True, mark_seen=False, bulk=500)``: one ``UID FETCH`` per 500 messages of
``BODY.PEEK[HEADER]`` (the whole header, which it parses with the stdlib's ``email.message_from_bytes``), UID,
FLAGS and RFC822.SIZE. Then the same header fields followupd and the baseline read are looked at, so nothing
is left lazily unparsed. Prints one JSON line: messages, seconds spent importing, seconds reading.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

FIELDS = ("Message-ID", "In-Reply-To", "References", "From", "To", "Cc", "Subject", "Date")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password-env", required=True)
    parser.add_argument("--bulk", type=int, default=500)
    parser.add_argument("folders", nargs="+")
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    from imap_tools import MailBoxUnencrypted

    imported = time.perf_counter() - t0
    messages = 0
    start = time.perf_counter()
    with MailBoxUnencrypted(args.host, args.port).login(args.user, os.environ[args.password_env]) as box:
        for folder in args.folders:
            box.folder.set(folder, readonly=True)
            for msg in box.fetch(headers_only=True, mark_seen=False, bulk=args.bulk):
                for name in FIELDS:
                    msg.obj.get(name)
                _ = (msg.uid, msg.flags, msg.size_rfc822)  # what followupd keeps of each message too
                messages += 1
    print(json.dumps({"messages": messages, "import_s": round(imported, 4),
                      "work_s": round(time.perf_counter() - start, 4)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The layering DESIGN.md promises: the pure core never pulls in network, SQL or scheduling libraries.

Run in a fresh interpreter, because this test process has long since imported everything.
"""

from __future__ import annotations

import subprocess
import sys

CORE_MODULES = ("followupd.planning.tracking", "followupd.mail.headers", "followupd.planning.matching",
                "followupd.planning.cadence", "followupd.compose.render", "followupd.compose.tone",
                "followupd.compose.checks",
                "followupd.mail.bodytext", "followupd.mail.ooo", "followupd.mail.dsn", "followupd.mail.intent",
                "followupd.mail.exchange", "followupd.planning.interpret")
ADAPTER_LIBRARIES = ("imapclient", "sqlalchemy", "apscheduler")


def test_core_modules_import_no_io_library() -> None:
    code = (
        "import sys\n"
        f"for name in {CORE_MODULES!r}: __import__(name)\n"
        f"print(','.join(lib for lib in {ADAPTER_LIBRARIES!r} if lib in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""

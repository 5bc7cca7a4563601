"""followupd.mail.patterns: a pattern compiled on first use behaves as the compiled one, for str and bytes."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from followupd.mail.patterns import lazy_pattern


def test_a_lazy_pattern_answers_as_the_compiled_one() -> None:
    lazy = lazy_pattern(r"(?P<user>\w+)@(\w+)\.org", re.IGNORECASE)
    plain = re.compile(r"(?P<user>\w+)@(\w+)\.org", re.IGNORECASE)
    text = "Bob@Example.ORG wrote to ann@example.org"
    assert [m.groups() for m in lazy.finditer(text)] == [m.groups() for m in plain.finditer(text)]
    assert lazy.sub(r"<\g<user>>", text) == plain.sub(r"<\g<user>>", text)
    assert lazy.fullmatch("x@y.org") is not None and lazy.match("nope") is None
    assert (lazy.pattern, lazy.flags, lazy.groupindex) == (plain.pattern, plain.flags, plain.groupindex)
    raw = lazy_pattern(rb"\d+")
    assert raw.findall(b"a1b22") == [b"1", b"22"]


def test_a_mistake_in_a_pattern_shows_at_first_use() -> None:
    broken = lazy_pattern(r"(unclosed")
    with pytest.raises(re.error):
        broken.search("x")


def test_importing_the_readers_compiles_none_of_their_patterns() -> None:
    """What makes ``followupd status`` cheap: the mail readers' patterns wait until a message is read."""
    code = ("import followupd.engine.cycle, followupd.mail.intent as i, followupd.mail.dsn_text as d; "
            "from followupd.mail.patterns import _LazyPattern as L; "
            "found = [v for m in (i, d) for v in vars(m).values() if isinstance(v, L)]; "
            "print(len(found), sum('_compiled' in v.__dict__ for v in found))")
    lazy, compiled = map(int, subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                             check=True).stdout.split())
    assert lazy > 10 and compiled == 0

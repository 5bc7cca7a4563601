"""The control-character patterns that clean bodies and header values match exactly what the Unicode
categories say (Cc, Zl, Zp), for every code point: the speed-up changed how, not what, is removed."""

from __future__ import annotations

import sys

from followupd.compose.clean import _BODY_CONTROL_CHARS, _CONTROL_CHARS, _is_control, clean_text, sanitize_header_value


def test_the_patterns_match_exactly_the_control_categories() -> None:
    for code in range(sys.maxunicode + 1):
        ch = chr(code)
        assert (_CONTROL_CHARS.fullmatch(ch) is not None) == _is_control(ch), hex(code)
        assert (_BODY_CONTROL_CHARS.fullmatch(ch) is not None) == (_is_control(ch) and ch not in "\n\t"), hex(code)


def test_cleaning_keeps_text_tabs_and_newlines_and_drops_the_rest() -> None:
    assert clean_text("Hi\r\nAna,\tthere\x00\x1b[31m\u2028ok\u0085\n") == "Hi\nAna,\tthere[31mok\n"
    assert sanitize_header_value(" Re:\r\nBcc: x@y\u2029 \x7fQ3  ") == "Re: Bcc: x@y Q3"

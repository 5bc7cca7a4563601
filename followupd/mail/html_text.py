"""The visible text of an HTML body, for :mod:`followupd.mail.bodytext`. Pure; never raises.

Why hand-written: the standard library's ``html.parser`` does the tokenising; what is ours is only which
elements are visible (scripts, styles, ``display:none`` preheaders and Gmail's signature block are not the
author's words) and turning ``<blockquote>`` nesting into "> " prefixes, so that quoted history in an HTML
reply is found by the same rules as in plain text. A full HTML-to-text library (html2text, BeautifulSoup)
would be a third-party import in the pure core for those few rules.
"""

from __future__ import annotations

import logging
import re
from html.parser import HTMLParser

from followupd.mail import internal_errors
from followupd.mail.patterns import lazy_pattern

__all__ = ["SPACES", "visible_text"]

logger = logging.getLogger(__name__)

#: Runs of horizontal white space, also the non-breaking and ideographic spaces mail clients put in HTML.
SPACES = lazy_pattern(r"[ \t\u00a0\u2007\u202f\u3000]+")


def visible_text(html: str) -> str:
    """The text a reader sees, one block element per line, quoted lines prefixed with "> "; never raises.

    A bug in the parser is recorded (:mod:`followupd.mail.internal_errors`) and what was read so far is kept.
    """
    converter = _HtmlText()
    try:
        converter.feed(_HTML_TOKEN.sub(_safe_token, html))
        converter.close()
    except Exception as exc:  # last resort: one hostile HTML body must not stop a cycle
        internal_errors.record("bodytext", exc, logger=logger, doing="reading an HTML body; the text so far is kept")
    return converter.text()


_BLOCK_TAGS = frozenset({
    "p", "div", "br", "tr", "li", "ul", "ol", "table", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "pre",
    "section", "article", "header", "footer", "address", "dl", "dt", "dd", "center", "form", "fieldset",
    "figure", "main", "nav", "aside", "body", "title",
})
_SKIP_TAGS = frozenset({"script", "style", "head", "template", "noscript", "object", "svg", "xml"})
_VOID_TAGS = frozenset({"br", "hr", "img", "meta", "link", "input", "area", "base", "col", "embed", "source",
                        "track", "wbr", "param"})


#: One linear pass before ``html.parser``, whose Python 3.11 version is quadratic on unclosed constructs
#: (``"<!" * 300_000`` takes seconds, ``"</" * 300_000`` minutes): comments, declarations and processing
#: instructions are dropped (never visible), well-formed tags kept, and every other "<" escaped as text.
_HTML_TOKEN = lazy_pattern(r"<!--.*?(?:-->|\Z)|<[!?][^>]*>?|</?[a-zA-Z][^<>]*>|<", re.DOTALL)


def _safe_token(match: re.Match[str]) -> str:
    token = match.group()
    if token == "<":
        return "&lt;"
    return "" if token[1] in "!?" else token


class _HtmlText(HTMLParser):
    """Collects visible text; ``<blockquote>`` nesting becomes a "> " prefix on each line."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._out: list[str] = []
        self._quote = 0
        self._pre = 0
        self._skip_tag = ""
        self._skip_depth = 0

    def text(self) -> str:
        return "".join(self._out)

    def _newline(self) -> None:
        self._out.append("\n> " if self._quote else "\n")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._skip_depth:
            if tag == self._skip_tag:
                self._skip_depth += 1
            return
        if tag in _SKIP_TAGS or (tag not in _VOID_TAGS and _hidden(attrs)):
            self._skip_tag, self._skip_depth = tag, 1
            return
        if tag == "blockquote":
            self._quote += 1
            self._newline()
        elif tag == "pre":
            self._pre += 1
            self._newline()
        elif tag in _BLOCK_TAGS:
            self._newline()
        elif tag in ("td", "th"):
            self._out.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if not self._skip_depth and tag in _BLOCK_TAGS:
            self._newline()

    def handle_endtag(self, tag: str) -> None:
        if self._skip_depth:
            if tag == self._skip_tag:
                self._skip_depth -= 1
            return
        if tag == "blockquote":
            self._quote = max(0, self._quote - 1)
            self._newline()
        elif tag == "pre":
            self._pre = max(0, self._pre - 1)
            self._newline()
        elif tag in _BLOCK_TAGS:
            self._newline()

    def handle_data(self, data: str) -> None:
        if self._skip_depth:
            return
        if self._pre:
            self._out.append(data.replace("\n", "\n> " if self._quote else "\n"))
        else:
            self._out.append(SPACES.sub(" ", data.replace("\r", " ").replace("\n", " ")))


def _hidden(attrs: list[tuple[str, str | None]]) -> bool:
    """``display:none`` (preheaders, tracking) and Gmail's signature block are not the author's words."""
    for name, value in attrs:
        if not value:
            continue
        if name == "style" and "display:none" in value.replace(" ", "").lower():
            return True
        if name in ("class", "data-smartmail") and "gmail_signature" in value:
            return True
    return False

"""Regular expressions compiled on first use, not at import.

Why: followupd's readers (dates, intents, out-of-office notices, bounces, owners, ...) hold about two hundred
patterns, and compiling them all at import cost about 0.2 s of every ``followupd`` process, including commands
such as ``status`` that never read a message. A :func:`lazy_pattern` behaves as the compiled pattern; the first
attribute asked of it compiles it, and its methods are then kept on the object, so later calls cost what a
compiled pattern's do. Never pass one to ``re.sub(pattern, ...)``: call its own methods (``PATTERN.sub(...)``);
and a match's ``.re`` is the compiled pattern, not this object: compare ``.pattern`` strings, never identity.
"""

from __future__ import annotations

import re
from typing import Any, AnyStr, cast, overload

#: The methods kept on the object after the first use, so the hot paths never go through ``__getattr__``.
_METHODS = ("search", "match", "fullmatch", "finditer", "findall", "sub", "subn", "split", "scanner")


class _LazyPattern:
    __slots__ = ("__dict__", "_flags", "_source")

    def __init__(self, source: str | bytes, flags: int) -> None:
        self._source = source
        self._flags = flags

    def __getattr__(self, name: str) -> Any:
        compiled = re.compile(self._source, self._flags)
        for method in _METHODS:
            self.__dict__[method] = getattr(compiled, method)
        self.__dict__["_compiled"] = compiled
        return getattr(compiled, name)

    def __repr__(self) -> str:
        return f"lazy_pattern({self._source!r}, {self._flags!r})"


@overload
def lazy_pattern(source: str, flags: int = 0) -> re.Pattern[str]: ...
@overload
def lazy_pattern(source: bytes, flags: int = 0) -> re.Pattern[bytes]: ...
def lazy_pattern(source: AnyStr, flags: int = 0) -> re.Pattern[AnyStr]:
    """``re.compile(source, flags)``, done when the pattern is first used."""
    return cast("re.Pattern[AnyStr]", _LazyPattern(source, flags))

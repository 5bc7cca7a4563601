"""The user's phrase changes for the "expects an answer" reader (``[replies.<lang>] asking / not_asking``).

Why a module of its own: the config builds these when it loads, and loading the config must not import the
reader itself (``followupd.mail.asks`` and the mail readers under it), which ``followupd status`` never needs.
``followupd.mail.asks`` re-exports both types, so its interface is unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["AskPhrases", "AskSettings"]


@dataclass(frozen=True)
class AskPhrases:
    """One language's changes, built by config from ``[replies.<lang>]``."""

    asking: tuple[str, ...] = ()      # phrases that ask something (added to the built-in ones)
    not_asking: tuple[str, ...] = ()  # phrases that mean "no answer needed" (added)
    remove: tuple[str, ...] = ()      # built-in phrases of that language to drop
    replace: bool = False             # asking/not_asking above are that language's whole lists


@dataclass(frozen=True)
class AskSettings:
    """The user's phrase changes, by language code ("en", "de", ...)."""

    phrases: Mapping[str, AskPhrases] = field(default_factory=dict)

"""Which recipients ``[tracking] auto_exclude`` keeps out of auto-tracking (issue 14), as pure functions.

Why patterns and not regular expressions: users write "our own domain" or "my boss"; four shapes cover that
and can be checked for typos when the config is read:

- ``bob@x.org``       that one address
- ``@example.com``    anyone at exactly example.com
- ``example.com``     anyone at example.com or any of its subdomains (sales.example.com)
- ``*.example.com``   anyone at a subdomain of example.com, not example.com itself

Matching is case-insensitive; an address without "@" never matches a domain pattern.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

_FORBIDDEN = frozenset(" \t\r\n<>(),;:\"[]\\/!?#%&=+")


def parse_exclude_pattern(text: str) -> str:
    """The pattern lower-cased and trimmed; ValueError saying which of the four shapes to use when it is none."""
    pattern = text.strip().lower()
    shapes = ('use an address ("bob@example.com"), a domain with its subdomains ("example.com"), exactly one '
              'domain ("@example.com") or only its subdomains ("*.example.com")')
    if not pattern or any(ch in _FORBIDDEN for ch in pattern):
        raise ValueError(shapes)
    if pattern.startswith("*."):
        domain = pattern[2:]
    elif pattern.startswith("@"):
        domain = pattern[1:]
    elif "@" in pattern:
        local, _, domain = pattern.rpartition("@")
        if not local or "@" in local or "*" in local:
            raise ValueError(shapes)
    else:
        domain = pattern
    labels = domain.split(".")
    if "*" in domain or "@" in domain or len(labels) < 2 or any(not label for label in labels):
        raise ValueError(shapes)
    return pattern


def address_excluded(address: str, patterns: Iterable[str]) -> bool:
    """Whether ``address`` matches one of ``patterns`` (already parsed by :func:`parse_exclude_pattern`)."""
    address = address.strip().lower()
    _local, at, domain = address.rpartition("@")
    for pattern in patterns:
        if pattern.startswith("*."):
            if at and domain.endswith(pattern[1:]):
                return True
        elif pattern.startswith("@"):
            if at and domain == pattern[1:]:
                return True
        elif "@" in pattern:
            if address == pattern:
                return True
        elif at and (domain == pattern or domain.endswith("." + pattern)):
            return True
    return False


def kept_recipients(addresses: Sequence[str], patterns: Sequence[str]) -> list[str]:
    """``addresses`` without the excluded ones, in order: none left means the message is not auto-tracked."""
    return [address for address in addresses if not address_excluded(address, patterns)]

"""Small bar charts in Unicode block characters, for ``followupd stats`` and the digest's plain-text part.

Why eighths: a terminal or a phone's mail app shows text in a fixed grid, and with whole blocks a bar of 20
cells can only say 0, 5, 10, ... 100 %; the eighth blocks (U+2589 to U+258F) make each cell eight steps finer,
so 3 of 40 and 4 of 40 still look different. Pure: numbers in, a string out.
"""

from __future__ import annotations

__all__ = ["bar"]

_FULL = "█"
_EIGHTHS = ("", "▏", "▎", "▍", "▌", "▋", "▊", "▉")


def bar(value: float, maximum: float, width: int = 20) -> str:
    """A bar ``value / maximum`` of ``width`` cells long, no trailing padding (the caller aligns what follows).

    Any value above 0 shows at least one eighth, so "a few" never looks like "none"; a ``maximum`` of 0 or less
    draws nothing (no data, not a division by zero)."""
    if width < 1:
        raise ValueError("width must be at least 1")
    if maximum <= 0 or value <= 0:
        return ""
    eighths = round(min(value, maximum) / maximum * width * 8)
    eighths = max(eighths, 1)
    full, rest = divmod(eighths, 8)
    return _FULL * full + _EIGHTHS[rest]

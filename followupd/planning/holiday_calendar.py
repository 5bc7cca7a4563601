"""Holidays by name: ``[cadence] holidays = ["DE-BY", "2026-12-24"]`` mixes region codes and dates.

The public holidays of a country or one of its subdivisions (ISO 3166-1 / 3166-2 codes: ``"DE"``, ``"DE-BY"``,
``"US-CA"``) come from the ``holidays`` package, which keeps rules for about 250 countries and their regions,
movable feasts included; a table of our own would be wrong by next Easter.

:class:`Holidays` is a ``frozenset`` of the listed dates that also answers ``day in holidays`` for every region
day, so every function that took a set of dates (business days, sending windows, tracking suffixes) takes it
unchanged. Region days are computed a year at a time, on first need, and cached: the set never has to be
materialised for every year a cadence might reach.

Pure: no network, no clock; the package computes dates from rules it ships with. It is imported on first use
(about 60 ms): a config without region codes, and every command that never asks, does not pay for it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from datetime import date
from functools import lru_cache

from followupd.errors import RegionError
from followupd.mail.patterns import lazy_pattern

_REGION = lazy_pattern(r"(?P<country>[A-Za-z]{2,3})(?:-(?P<subdiv>[A-Za-z0-9]{1,4}))?")


def normalise_region(code: str) -> str:
    """``"de-by"`` -> ``"DE-BY"``, checked against the package's list; RegionError saying what would work."""
    import holidays as holidays_package

    match = _REGION.fullmatch(code.strip())
    if match is None:
        raise RegionError(f"{code!r} is neither an ISO date such as \"2026-12-25\" nor a region code such as "
                          '"DE" or "DE-BY" (ISO 3166 country, then an optional subdivision)')
    country = match["country"].upper()
    subdiv = (match["subdiv"] or "").upper()
    supported = holidays_package.list_supported_countries()
    if country not in supported:
        close = difflib.get_close_matches(country, list(supported), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise RegionError(f"{code!r}: the holidays package knows no country {country!r}{hint} Use an ISO 3166 "
                          'code such as "DE", "FR" or "US-CA"')
    if subdiv:
        known = [str(name).upper() for name in supported[country]]
        if subdiv not in known:
            listed = ", ".join(sorted(known)) if known else "none (use the country code alone)"
            raise RegionError(f"{code!r}: {country} has no subdivision {subdiv!r}; its subdivisions: {listed}")
    return f"{country}-{subdiv}" if subdiv else country


@lru_cache(maxsize=512)
def region_days(region: str, year: int) -> frozenset[date]:
    """The public holidays of ``region`` (a normalised code) in ``year``."""
    import holidays as holidays_package

    country, _, subdiv = region.partition("-")
    calendar = holidays_package.country_holidays(country, subdiv=subdiv or None, years=year)
    return frozenset(calendar.keys())


def region_holiday_name(regions: Iterable[str], day: date) -> str | None:
    """What the day is called in the first region that has it ("Epiphany"), for explanations."""
    import holidays as holidays_package

    for region in regions:
        if day in region_days(region, day.year):
            country, _, subdiv = region.partition("-")
            name = holidays_package.country_holidays(country, subdiv=subdiv or None, years=day.year).get(day)
            return str(name) if name else region
    return None


class Holidays(frozenset[date]):
    """The listed dates, plus (for ``in``) every public holiday of ``regions``.

    Equal to a plain frozenset of the same dates when no region is listed, so code and tests that think of
    holidays as a set of dates keep working."""

    regions: tuple[str, ...]

    def __new__(cls, dates: Iterable[date] = (), regions: Iterable[str] = ()) -> Holidays:
        made = super().__new__(cls, dates)
        made.regions = tuple(dict.fromkeys(regions))
        return made

    def __contains__(self, day: object) -> bool:
        if frozenset.__contains__(self, day):
            return True
        if not isinstance(day, date) or not self.regions:
            return False
        return any(day in region_days(region, day.year) for region in self.regions)

    def __eq__(self, other: object) -> bool:
        return frozenset.__eq__(self, other) is True and getattr(other, "regions", ()) == self.regions

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash((frozenset(self), self.regions))

    def __repr__(self) -> str:
        return f"Holidays({sorted(self)!r}, regions={self.regions!r})"

    def __reduce__(self) -> tuple[type[Holidays], tuple[tuple[date, ...], tuple[str, ...]]]:
        return (Holidays, (tuple(self), self.regions))

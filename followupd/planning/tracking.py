"""Tracking address and suffix -> TrackRequest: is this message tracked, and what did the user promise?

Pure: the caller passes the message's send date. ``me+followup@example.com`` tracks with the default cadence;
``me+followup-5d@…``, ``-3bd``, ``-fri``, ``-dec15``, ``-2026-12-01`` set the first check-in date.

A suffix ``me`` or ``me-<date>`` (``+followup-me-3d``) turns the request around: it tracks a promise the USER
made ("I'll come back to you on the quote"). Nobody is nudged; the user gets a reminder on the date, and their
own message in the thread settles it (``TrackRequest.own_commitment``). The date part takes the same forms;
bare ``me`` means the first gap of the cadence.

The suffix ``actions`` (``+followup-actions``) marks a meeting recap: its action items are read from the body
and each owner is checked in with about their own (followupd.engine.recaps).

A suffix that does not parse never drops the message: it is tracked with the default cadence and the problem
is kept as a sentence the user can read (``TrackRequest.problem``), because losing a tracked message silently
is worse than following up on a different day than hoped.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from email.utils import parseaddr

from followupd.mail.patterns import lazy_pattern
from followupd.planning.cadence import add_business_days


@dataclass(frozen=True)
class TrackRequest:
    """A message asked to be tracked. ``promised`` is None when no (valid) suffix was given."""

    address: str               # the tracking address exactly as found on the message (lower-cased)
    suffix: str | None         # the raw suffix, e.g. "5d" or "me-3d", or None
    promised: date | None      # first check-in date the suffix asked for
    problem: str | None = None # why the suffix was not understood (tracked with the default instead)
    own_commitment: bool = False  # "me"/"me-…": the user promised an answer; remind them, nudge nobody
    expect_all: bool = False      # "-all": every To recipient is expected to answer, not just anyone


# Characters that may join the base local part and the suffix: ``me+followup-5d``, ``me+followup.fri``, ...
_SEPARATORS = "-+_."
# More than a year ahead is almost certainly a typo (``-2062-01-01``), and nobody remembers such a promise.
_MAX_DAYS_AHEAD = 366

_WEEKDAYS: dict[str, int] = {
    "mon": 0, "monday": 0,
    "tue": 1, "tues": 1, "tuesday": 1,
    "wed": 2, "weds": 2, "wednesday": 2,
    "thu": 3, "thur": 3, "thurs": 3, "thursday": 3,
    "fri": 4, "friday": 4,
    "sat": 5, "saturday": 5,
    "sun": 6, "sunday": 6,
}
_MONTH_NAMES = ("january", "february", "march", "april", "may", "june", "july", "august", "september",
                "october", "november", "december")
_MONTHS: dict[str, int] = {
    **{name: number for number, name in enumerate(_MONTH_NAMES, start=1)},
    **{name[:3]: number for number, name in enumerate(_MONTH_NAMES, start=1)},
    "sept": 9,
}
_RELATIVE = lazy_pattern(r"(\d+)(d|bd|w)")
_ISO = lazy_pattern(r"(\d{4})-(\d{2})-(\d{2})")
_MONTH_DAY = lazy_pattern(r"([a-z]+)[-_.]?(\d{1,2})")
_DAY_MONTH = lazy_pattern(r"(\d{1,2})[-_.]?([a-z]+)")

#: The suffix that marks the user's own promise: ``me`` alone, or ``me`` + a separator + a date form.
_OWN_COMMITMENT = "me"
#: The suffix that marks a meeting recap whose action items are followed up per owner (issue 13).
_ACTIONS = "actions"

_ALLOWED_FORMS = (
    "use a number of days, business days or weeks (5d, 3bd, 2w), a weekday (fri, friday), "
    "a month and day (dec15, 15dec, december15) or an ISO date (2026-12-01)"
)


def _bare_address(text: str) -> str:
    """``"Me <me+followup@x.org>"`` or ``" ME@X.org "`` -> ``"me@x.org"``: headers come in both shapes."""
    if "<" in text:
        text = parseaddr(text)[1]
    return text.strip().lower()


def _split(email: str, tracking_address: str) -> tuple[bool, str | None]:
    """(is it the tracking address, its suffix); the suffix is None for the bare address or an empty one."""
    local, _, domain = _bare_address(email).rpartition("@")
    base_local, _, base_domain = _bare_address(tracking_address).rpartition("@")
    if not local or not base_local or domain != base_domain:
        return False, None
    if local == base_local:
        return True, None
    rest = local.removeprefix(base_local)
    if rest != local and rest[:1] in tuple(_SEPARATORS):
        return True, rest[1:] or None
    return False, None


def is_tracking_address(email: str, tracking_address: str) -> bool:
    """True when ``email`` is the tracking address, bare or with a suffix after one separator (``-+_.``).

    Case-insensitive, because mail clients and people change case freely in addresses. ``me+followupx@…``
    is not a match: without a separator it is a different mailbox, not a suffix.
    """
    return _split(email, tracking_address)[0]


def split_suffix(email: str, tracking_address: str) -> str | None:
    """The raw suffix of a tracking address (``"5d"``), lower-cased; None for the bare address.

    Raises ValueError when ``email`` is not a tracking address at all, so a caller cannot mistake "someone
    else's address" for "tracked with the default cadence".
    """
    matches, suffix = _split(email, tracking_address)
    if not matches:
        raise ValueError(f"{email!r} is not the tracking address {tracking_address!r} or a variant of it")
    return suffix


def _relative(amount: int, unit: str, sent_on: date, holidays: frozenset[date]) -> date:
    """``5d`` / ``2w`` are calendar days from the send date; ``3bd`` skips weekends and holidays."""
    if amount > _MAX_DAYS_AHEAD:  # refuse before the arithmetic: "99999999d" would overflow ``date``
        raise ValueError(f"follow-up suffix '{amount}{unit}' is more than {_MAX_DAYS_AHEAD} days ahead")
    if unit == "bd":
        return add_business_days(sent_on, amount, holidays)
    return sent_on + timedelta(days=amount * (7 if unit == "w" else 1))


def _next_weekday(weekday: int, sent_on: date) -> date:
    """The next such weekday strictly after the send day: "-fri" sent on a Friday means next Friday."""
    return sent_on + timedelta(days=(weekday - sent_on.weekday() - 1) % 7 + 1)


def _next_month_day(month: int, day: int, sent_on: date, suffix: str) -> date:
    """The next ``month``/``day`` strictly after the send date, rolling into next year if need be."""
    try:
        date(2000, month, day)  # a leap year: only days that never exist fail here
    except ValueError:
        raise ValueError(f"follow-up suffix {suffix!r} is not a real calendar date") from None
    for year in (sent_on.year, sent_on.year + 1):
        try:
            candidate = date(year, month, day)
        except ValueError:
            continue
        if candidate > sent_on:
            return candidate
    raise ValueError(f"follow-up suffix {suffix!r} is not a date that occurs within the next year")


def _month_day(suffix: str, sent_on: date) -> date | None:
    """Parse ``dec15`` / ``15dec`` / ``december15`` / ``sept-3``; None when the text is not of that shape."""
    for pattern, month_group, day_group in ((_MONTH_DAY, 1, 2), (_DAY_MONTH, 2, 1)):
        match = pattern.fullmatch(suffix)
        if match and match.group(month_group) in _MONTHS:
            month = _MONTHS[match.group(month_group)]
            return _next_month_day(month, int(match.group(day_group)), sent_on, suffix)
    return None


def _iso(suffix: str) -> date | None:
    """Parse ``2026-12-01``; None when the text is not of that shape, ValueError for ``2026-02-30``."""
    match = _ISO.fullmatch(suffix)
    if not match:
        return None
    try:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        raise ValueError(f"follow-up suffix {suffix!r} is not a real calendar date") from None


def _any_form(suffix: str, sent_on: date, holidays: frozenset[date]) -> date | None:
    """Try every accepted form in turn; None when none of them fits."""
    relative = _RELATIVE.fullmatch(suffix)
    if relative:
        return _relative(int(relative.group(1)), relative.group(2), sent_on, holidays)
    if suffix in _WEEKDAYS:
        return _next_weekday(_WEEKDAYS[suffix], sent_on)
    return _iso(suffix) or _month_day(suffix, sent_on)


def parse_suffix(suffix: str, *, sent_on: date, holidays: frozenset[date] = frozenset()) -> date:
    """The first check-in date a suffix promises, for a message sent on ``sent_on``.

    Raises ValueError with a sentence fit to show the user (what was given, what is allowed) when the suffix
    does not parse, or names a date that is not after the send date or is more than a year ahead: a promise
    has to be something followupd can keep.
    """
    cleaned = suffix.strip().lower()
    promised = _any_form(cleaned, sent_on, holidays)
    if promised is None:
        raise ValueError(f"follow-up suffix {suffix!r} is not understood; {_ALLOWED_FORMS}")
    if promised <= sent_on:
        raise ValueError(
            f"follow-up suffix {suffix!r} means {promised.isoformat()}, which is not after the send date "
            f"{sent_on.isoformat()}; {_ALLOWED_FORMS}"
        )
    if (promised - sent_on).days > _MAX_DAYS_AHEAD:
        raise ValueError(
            f"follow-up suffix {suffix!r} means {promised.isoformat()}, more than {_MAX_DAYS_AHEAD} days "
            f"after the send date {sent_on.isoformat()}"
        )
    return promised


def split_commitment(suffix: str) -> tuple[bool, str | None]:
    """(is it the user's own promise, the date part): ``"me-3d"`` -> ``(True, "3d")``, ``"me"`` -> ``(True,
    None)``, ``"5d"`` -> ``(False, "5d")``. ``"mesa"`` is not ``me``: a separator must follow."""
    cleaned = suffix.strip().lower()
    if cleaned == _OWN_COMMITMENT:
        return True, None
    rest = cleaned.removeprefix(_OWN_COMMITMENT)
    if rest != cleaned and rest[:1] in tuple(_SEPARATORS):
        return True, rest[1:] or None
    return False, suffix


def split_expect_all(suffix: str) -> tuple[str, bool]:
    """``"5d-all"`` -> ("5d", True); ``"all"`` -> ("", True): every To recipient is expected to answer."""
    lowered = suffix.lower()
    if lowered == "all":
        return "", True
    for sep in _SEPARATORS:
        if lowered.endswith(sep + "all"):
            return suffix[: -len(sep + "all")], True
    return suffix, False


def _request(address: str, tracking_address: str, sent_on: date, holidays: frozenset[date]) -> TrackRequest:
    """A TrackRequest for one matching address; an unparsable suffix becomes ``problem``, never an error."""
    suffix = split_suffix(address, tracking_address)
    bare = _bare_address(address)
    if suffix is None:
        return TrackRequest(address=bare, suffix=None, promised=None)
    suffix, expect_all = split_expect_all(suffix)
    if not suffix:
        return TrackRequest(address=bare, suffix=None, promised=None, expect_all=expect_all)
    if suffix.lower() == _ACTIONS:  # a meeting recap: its action items are followed up with their owners
        return TrackRequest(address=bare, suffix=_ACTIONS, promised=None, expect_all=expect_all)
    own, when = split_commitment(suffix)
    if when is None:
        return TrackRequest(address=bare, suffix=suffix, promised=None, own_commitment=own, expect_all=expect_all)
    try:
        promised = parse_suffix(when, sent_on=sent_on, holidays=holidays)
    except ValueError as exc:
        problem = f"{exc} (in the promise suffix {suffix!r})" if own else str(exc)
        return TrackRequest(address=bare, suffix=suffix, promised=None, problem=problem, own_commitment=own,
                            expect_all=expect_all)
    return TrackRequest(address=bare, suffix=suffix, promised=promised, own_commitment=own, expect_all=expect_all)


def find_tracking(
    addresses: Iterable[str],
    tracking_address: str,
    *,
    sent_on: date,
    holidays: frozenset[date] = frozenset(),
) -> TrackRequest | None:
    """The tracking request among a message's addresses (Bcc/To/Cc, or To/Cc/Delivered-To/X-Original-To).

    When several variants appear, the first one with a valid promise wins, then the first bare address, then
    the first with a problem: a typo in one copy must not hide a good suffix in another. A message whose only
    variant has a bad suffix is still tracked (``promised`` None, ``problem`` set). None when no address is
    the tracking address.
    """
    requests = [
        _request(address, tracking_address, sent_on, holidays)
        for address in addresses
        if is_tracking_address(address, tracking_address)
    ]
    ranked = sorted(requests, key=_preference)  # sorted() is stable: ties keep header order
    return ranked[0] if ranked else None


def _preference(request: TrackRequest) -> int:
    """Sort key for ``find_tracking``: a kept promise beats the bare address beats a suffix with a problem."""
    if request.promised is not None:
        return 0
    return 1 if request.problem is None else 2

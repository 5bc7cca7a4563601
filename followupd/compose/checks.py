"""Template checks: render every template against sample threads and hold it to the tone rules.

``followupd templates check`` prints what :func:`find_problems` finds; the daemon calls :func:`check_library`
at start-up and refuses to run on an error. Pure: the samples carry a fixed "now", nothing reads the clock.

Errors are what would break a draft: a file that does not parse, a variable that is undefined for some thread
(a template may only work for named recipients, or with a promised date), an empty subject or body. Warnings
are matters of taste the user may overrule in ``[tone]``: a body over the word limit, a pushy phrase, words in
capitals, "!!" and "??". Tone rules look at the literal text of the template (its Jinja ``data`` and string
literals), so the line of each problem is exact and a recipient's name in capitals is never blamed on it.

The templates for the user's own promises (``commitment/reminder/``, ``commitment/update/``) are checked the
same way, against the same samples: they get the same variables, and a reminder to oneself deserves the
same calm tone as a note to someone else.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from followupd.compose.library import TemplateLibrary
from followupd.compose.render import RenderContext, literal_text, render
from followupd.compose.scan import TemplateScan
from followupd.compose.tone import ToneRules, ToneSettings, tone_problems, word_count
from followupd.compose.variant import TemplateVariant
from followupd.errors import TemplateError
from followupd.mail.headers import Address

Severity = Literal["error", "warning"]

#: How many follow-ups the samples assume when the caller does not say (the default cadence has four).
DEFAULT_TOTAL_TOUCHES = 4
SAMPLE_USER = "Alex Example"
SAMPLE_SIGNATURE = "Alex Example"
#: A fixed Wednesday morning: the checks are reproducible and never read the clock.
SAMPLE_NOW = datetime(2026, 3, 11, 10, 0, tzinfo=UTC)
_SAMPLE_TZ = ZoneInfo("UTC")
_JINJA_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}|\{\{.*|\{%.*|\{#.*")
_NOTE = "The signed contract is attached again, in case the first copy went astray."


@dataclass(frozen=True)
class Problem:
    """One finding, printed as ``path:line: severity: message`` (``path: severity: message`` without a line)."""

    path: Path
    line: int | None
    severity: Severity
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else str(self.path)
        return f"{where}: {self.severity}: {self.message}"


@dataclass(frozen=True)
class SampleThread:
    """A made-up thread a template must render for; ``label`` names it in messages."""

    label: str
    recipients: tuple[Address, ...]
    cc: tuple[Address, ...]
    subject: str
    sent_days_ago: int
    promised_days_after_sending: int | None
    note: str | None


_ANA = Address("ana@example.com", "Ana Lima")
_BOB = Address("bob@example.org", "Bob Stone")
_CY = Address("cy@example.net", "Lima, Cyrus")
_DEE = Address("dee@example.com", "")

#: Between them: one and several recipients, with and without names, with and without a subject, a promised
#: date and a note, sent yesterday, weeks ago and last year.
SAMPLE_THREADS: tuple[SampleThread, ...] = (
    SampleThread("one recipient with a name", (_ANA,), (), "Q3 budget", 6, None, None),
    SampleThread("one recipient without a name, no subject, a promised date and a note", (_DEE,), (), "", 1,
                 1, _NOTE),
    SampleThread("two recipients with names, a Cc, a promised date and a note", (_ANA, _BOB), (_CY,),
                 "Re: AW: Offer for the Q4 workshop", 20, 7, _NOTE),
    SampleThread("a named and an unnamed recipient, sent last year", (_BOB, _DEE), (), "Garden shed", 400, None,
                 None),
    SampleThread("five recipients with names and a promised date", (_ANA, _BOB, _CY,
                 Address("eve@example.com", "Eve Park"), Address("fay@example.com", "Fay Wu")), (),
                 "Team offsite", 9, 3, None),
)


def sample_contexts(*, total_touches: int = DEFAULT_TOTAL_TOUCHES, user_name: str = SAMPLE_USER,
                    signature: str = SAMPLE_SIGNATURE) -> Iterator[tuple[str, RenderContext]]:
    """Every sample thread at every touch of every cadence length up to ``total_touches``, with a label."""
    for sample in SAMPLE_THREADS:
        sent_at = SAMPLE_NOW - timedelta(days=sample.sent_days_ago, hours=1)
        promised: date | None = None
        if sample.promised_days_after_sending is not None:
            promised = sent_at.date() + timedelta(days=sample.promised_days_after_sending)
        for total in range(1, max(total_touches, 1) + 1):
            for touch in range(1, total + 1):
                yield (f"{sample.label}, touch {touch} of {total}", RenderContext(
                    recipients=sample.recipients, cc=sample.cc, original_subject=sample.subject, sent_at=sent_at,
                    now=SAMPLE_NOW, tz=_SAMPLE_TZ, touch_number=touch, total_touches=total, promised=promised,
                    user_name=user_name, signature=signature, note=sample.note,
                ))


def check_variants(variants: Sequence[TemplateVariant], tone: ToneSettings, *,
                   total_touches: int = DEFAULT_TOTAL_TOUCHES, user_name: str = SAMPLE_USER,
                   signature: str = SAMPLE_SIGNATURE) -> list[Problem]:
    """Render each variant for every sample and touch; tone and length by each variant's language."""
    contexts = list(sample_contexts(total_touches=total_touches, user_name=user_name, signature=signature))
    problems: list[Problem] = []
    for variant in variants:
        rules = tone.rules(variant.lang)
        problems += _render_problems(variant, contexts, rules)
        problems += _tone_problems(variant, rules)
    return _sorted(problems)


def find_problems(scan: TemplateScan, tone: ToneSettings, *, total_touches: int = DEFAULT_TOTAL_TOUCHES,
                  user_name: str = SAMPLE_USER, signature: str = SAMPLE_SIGNATURE,
                  config_path: Path | None = None) -> list[Problem]:
    """Everything wrong with a scan of template folders: files that do not load, then :func:`check_variants`,
    then ``[templates] disable`` entries that match nothing (reported against ``config_path``)."""
    problems = [_from_error(exc) for exc in scan.errors]
    loaded = {variant.key for variant in scan.variants}
    for found in scan.files.values():  # a file with an error still gets its tone warnings: one run, every problem
        if found.key not in loaded:
            problems += file_tone_problems(found.path, tone.rules(found.lang))
    problems += check_variants(scan.variants, tone, total_touches=total_touches, user_name=user_name,
                               signature=signature)
    problems += _disable_problems(scan, config_path)
    return _sorted(problems)


def check_library(library: TemplateLibrary, tone: ToneSettings, *, total_touches: int = DEFAULT_TOTAL_TOUCHES,
                  user_name: str = SAMPLE_USER, signature: str = SAMPLE_SIGNATURE) -> list[Problem]:
    """The start-up check: TemplateError (file and line) on the first error; otherwise the warnings."""
    problems = check_variants(library.every_variant(), tone, total_touches=total_touches, user_name=user_name,
                              signature=signature)
    if library.scan is not None:
        problems += _disable_problems(library.scan, None)
    errors = [problem for problem in problems if problem.severity == "error"]
    if errors:
        first = errors[0]
        more = f" ({len(errors) - 1} more; see followupd templates check)" if len(errors) > 1 else ""
        where = f"{first.path} line {first.line}" if first.line is not None else str(first.path)
        raise TemplateError(f"{where}: {first.message}{more}", path=str(first.path), line=first.line)
    return problems


# ---------------------------------------------------------------------------------------------------- helpers


def _render_problems(variant: TemplateVariant, contexts: Sequence[tuple[str, RenderContext]],
                     rules: ToneRules) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[tuple[int | None, str]] = set()
    longest: tuple[int, str] = (0, "")
    for label, ctx in contexts:
        try:
            rendered = render(variant, ctx)
        except TemplateError as exc:
            bare = bare_message(exc)
            if (exc.line, bare) not in seen:  # the same mistake fails most samples: say it once
                seen.add((exc.line, bare))
                problems.append(Problem(variant.path, exc.line, "error", f"{bare} (with {label})"))
            continue
        longest = max(longest, (word_count(rendered.body), label), key=lambda item: item[0])
    if longest[0] > rules.max_words:
        problems.append(Problem(
            variant.path, variant.body_first_line, "warning",
            f"the body is {longest[0]} words with {longest[1]}; keep it to {rules.max_words} so it fits on a phone "
            "screen ([tone] max_words)"))
    return problems


def _tone_problems(variant: TemplateVariant, rules: ToneRules) -> list[Problem]:
    problems: list[Problem] = []
    for source, first_line in ((variant.subject_source, 1), (variant.body_source, variant.body_first_line)):
        for lineno, text in literal_text(source):
            for hit in tone_problems(text, rules):
                line = first_line + lineno - 1 + text.count("\n", 0, hit.offset)
                problems.append(Problem(variant.path, line, "warning", f"tone: {hit.message}"))
    return problems


def _disable_problems(scan: TemplateScan, config_path: Path | None) -> list[Problem]:
    where = config_path or Path("[templates] disable")
    problems = []
    for pattern in scan.unmatched_disable:
        keys = [*scan.files, *(found.key for found in scan.disabled)]
        close = difflib.get_close_matches(pattern, keys, n=1, cutoff=0.6)
        hint = f'; did you mean "{close[0]}"?' if close else ""
        problems.append(Problem(where, None, "warning",
                                f'[templates] disable: "{pattern}" matches no built-in template{hint}'))
    return problems


def file_tone_problems(path: Path, rules: ToneRules) -> list[Problem]:
    """Tone warnings for a template file that failed to load, so one ``templates check`` lists every problem.

    The literal text comes from Jinja's lexer when the file lexes (an unknown variable, a render error); for a
    syntax error the tags are cut out line by line instead, which keeps every line number exact."""
    try:
        text = path.read_text("utf-8-sig").replace("\r\n", "\n").replace("\r", "\n")
    except (OSError, UnicodeDecodeError):
        return []  # the load error already says why the file cannot be read
    pieces = list(literal_text(text))
    if not pieces:
        pieces = [(lineno, _JINJA_TAG.sub(" ", line)) for lineno, line in enumerate(text.split("\n"), start=1)]
    problems: list[Problem] = []
    for lineno, piece in pieces:
        for hit in tone_problems(piece, rules):
            line = lineno + piece.count("\n", 0, hit.offset)
            problems.append(Problem(path, line, "warning", f"tone: {hit.message}"))
    return problems


def _from_error(exc: TemplateError) -> Problem:
    return Problem(Path(exc.path) if exc.path else Path("."), exc.line, "error", bare_message(exc))


def bare_message(exc: TemplateError) -> str:
    """The message without the ``PATH line N: `` prefix, which :class:`Problem` prints in its own form."""
    text = str(exc)
    for prefix in (f"{exc.path} line {exc.line}: ", f"{exc.path}: "):
        if exc.path and text.startswith(prefix):
            return text[len(prefix):]
    return text


def _sorted(problems: list[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: (str(p.path), p.line or 0, p.severity != "error"))

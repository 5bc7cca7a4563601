"""Template checks: render every template against sample threads and hold it to the tone rules.

``followupd templates check`` prints what :func:`find_problems` finds; the daemon calls :func:`check_library`
at start-up and refuses to run on an error. Pure: the samples (:mod:`followupd.compose.samples`) carry a fixed
"now", nothing reads the clock.

Errors are what would break a draft: a file that does not parse, a variable that is undefined for some thread
(a template may only work for named recipients, or with a promised date), an empty subject or body. Warnings
are matters of taste the user may overrule in ``[tone]``: a body over the word limit, a pushy phrase, words in
capitals, "!!" and "??", and (for ``templates check``, :mod:`followupd.compose.prose`) a rendered note that reads
as machine-made: a repeated word, an empty greeting, dangling punctuation. Tone rules look at the literal text
of the template (its Jinja ``data`` and string literals), so the line of each problem is exact and a
recipient's name in capitals is never blamed on it.

The templates for the user's own promises (``commitment/reminder/``, ``commitment/update/``) are checked the
same way, against the same samples: they get the same variables, and a reminder to oneself deserves the
same calm tone as a note to someone else. The action-item templates (``actions/``) are rendered for sample
meeting recaps with their items instead.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from followupd.compose.checked import remembered
from followupd.compose.library import TemplateLibrary
from followupd.compose.prose import inserted_values, prose_problems
from followupd.compose.render import RenderContext, literal_text, render
from followupd.compose.samples import (
    DEFAULT_TOTAL_TOUCHES,
    SAMPLE_NOW,
    SAMPLE_SIGNATURE,
    SAMPLE_THREADS,
    SAMPLE_USER,
    SampleThread,
    contexts_for_stage,
    sample_contexts,
)
from followupd.compose.scan import TemplateScan
from followupd.compose.tone import ToneRules, ToneSettings, tone_problems, word_count
from followupd.compose.variant import TemplateVariant
from followupd.errors import TemplateError
from followupd.mail.patterns import lazy_pattern

#: The samples live in :mod:`followupd.compose.samples`; these names stay importable from here.
__all__ = ["DEFAULT_TOTAL_TOUCHES", "SAMPLE_NOW", "SAMPLE_SIGNATURE", "SAMPLE_THREADS", "SAMPLE_USER", "Problem",
           "SampleThread", "check_library", "check_variants", "file_tone_problems", "find_problems",
           "sample_contexts"]

Severity = Literal["error", "warning"]

_JINJA_TAG = lazy_pattern(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}|\{\{.*|\{%.*|\{#.*")


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


def check_variants(variants: Sequence[TemplateVariant], tone: ToneSettings, *,
                   total_touches: int = DEFAULT_TOTAL_TOUCHES, user_name: str = SAMPLE_USER,
                   signature: str = SAMPLE_SIGNATURE, prose: bool = False) -> list[Problem]:
    """Render each variant for every sample and touch; tone and length by each variant's language.

    Follow-ups and commitment templates are rendered for the sample threads, check-ins and roll-ups for
    sample meeting recaps with their items (:func:`~followupd.compose.samples.contexts_for_stage`). With
    ``prose``, each rendered body is also read for repeated words, empty greetings and dangling punctuation
    (:mod:`followupd.compose.prose`), as ``templates check`` does; the start-up check leaves that out."""
    inputs = [repr(tone), str(total_touches), user_name, signature, str(prose)]
    for variant in variants:
        inputs += [variant.key, variant.stage, variant.lang, str(variant.path), variant.subject_source,
                   variant.body_source, str(variant.body_first_line)]
    # Every start-up and `templates check` renders the whole library for every sample: remembered by its inputs.
    return remembered("render", inputs,
                      lambda: _check_variants(variants, tone, total_touches=total_touches, user_name=user_name,
                                              signature=signature, prose=prose),
                      dump=lambda found: [[str(p.path), p.line, p.severity, p.message] for p in found],
                      load=_problems_from_json)


def _problems_from_json(data: object) -> list[Problem]:
    if not isinstance(data, list):
        raise ValueError("not a list of problems")
    return [Problem(Path(path), line, severity, message) for path, line, severity, message in data]


def _check_variants(variants: Sequence[TemplateVariant], tone: ToneSettings, *, total_touches: int,
                    user_name: str, signature: str, prose: bool) -> list[Problem]:
    contexts: dict[str, list[tuple[str, RenderContext]]] = {}
    problems: list[Problem] = []
    for variant in variants:
        if variant.stage not in contexts:
            contexts[variant.stage] = contexts_for_stage(variant.stage, total_touches=total_touches,
                                                         user_name=user_name, signature=signature)
        rules = tone.rules(variant.lang)
        problems += _render_problems(variant, contexts[variant.stage], rules, prose=prose)
        problems += _tone_problems(variant, rules)
    return _sorted(problems)


def find_problems(scan: TemplateScan, tone: ToneSettings, *, total_touches: int = DEFAULT_TOTAL_TOUCHES,
                  user_name: str = SAMPLE_USER, signature: str = SAMPLE_SIGNATURE,
                  config_path: Path | None = None, prose: bool = False) -> list[Problem]:
    """Everything wrong with a scan of template folders: files that do not load, then :func:`check_variants`
    (with ``prose``, the prose checks too), then ``[templates] disable`` entries that match nothing (reported
    against ``config_path``)."""
    problems = [_from_error(exc) for exc in scan.errors]
    loaded = {variant.key for variant in scan.variants}
    for found in scan.files.values():  # a file with an error still gets its tone warnings: one run, every problem
        if found.key not in loaded:
            problems += file_tone_problems(found.path, tone.rules(found.lang))
    problems += check_variants(scan.variants, tone, total_touches=total_touches, user_name=user_name,
                               signature=signature, prose=prose)
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
                     rules: ToneRules, *, prose: bool = False) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[tuple[int | None, str]] = set()
    longest: tuple[int, str] = (0, "")
    read: set[str] = set()  # bodies already read for prose: most touches of a sample render the same note
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
        if prose and rendered.body not in read:
            read.add(rendered.body)
            for found in prose_problems(rendered.body, variant.lang, inserted=inserted_values(ctx, variant.lang)):
                if (None, found) not in seen:  # most samples read the same way: say each finding once
                    seen.add((None, found))
                    problems.append(Problem(variant.path, None, "warning", f"prose: {found} (with {label})"))
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

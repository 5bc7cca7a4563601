"""Does a rendered follow-up read as written by a person? Repeated words, empty greetings, dangling punctuation.

Pure: it reads the rendered body and nothing else. The tone rules (:mod:`followupd.compose.tone`) judge what a template
*says*; these judge how the rendered sentences *read* once names, dates and optional paragraphs are filled in,
which only a render can show: "Hello," when the thread has no name, "( )" when an optional part was empty, or
"today ... which is why I'm writing today" when two paragraphs meet.

What counts as a repetition: a word of five or more letters used twice in the author's own text, or any run of
three words used twice. Text the template inserts (the note, the signature, the subject, names) is left out,
because the template cannot choose it. The short lists of function words below are the few longer words a
sentence needs again and again ("about", "would", "diese"); a general stop-word list would hide exactly the
repetitions this looks for ("today", "again", "message"), so no stop-word package is used.

A list (lines starting with "-", "*", "•" or "1.") repeats its own structure by design: "- Bob: the pricing
(done)" and "- Ana: the forecast (done)" are parallel, not clumsy. So the lines of a list count as one: a word
or phrase counts as often as the one list line that uses it most, plus its uses in the prose around the list.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from functools import lru_cache
from typing import cast

from followupd.compose.dates import locale_for
from followupd.compose.render import RenderContext, render, template_variables
from followupd.compose.samples import contexts_for_stage
from followupd.compose.variant import TemplateVariant
from followupd.errors import TemplateError
from followupd.mail.patterns import lazy_pattern

#: Longer words that repeat in any well-written note and are no sign of clumsy wording.
_FUNCTION_WORDS: Mapping[str, frozenset[str]] = {
    "en": frozenset({"about", "would", "there", "their", "which", "these", "those", "where", "could", "should",
                     "other", "whether", "every", "because", "after", "before", "being", "you're", "that's"}),
    "de": frozenset({"diese", "dieser", "dieses", "diesem", "diesen", "einen", "einem", "einer", "eines",
                     "ihnen", "nicht", "haben", "wenn", "damit", "schon", "meine", "meiner", "meinem", "meinen",
                     "ihrer", "ihren", "ihrem", "werden", "würde", "können", "sollte", "zwischen"}),
    "fr": frozenset({"votre", "vôtre", "notre", "cette", "comme", "faire", "avoir", "aussi", "encore", "entre",
                     "depuis", "leurs", "quand", "qu'il", "c'est", "n'est", "j'ai", "d'une", "l'une", "vous"}),
    "es": frozenset({"usted", "ustedes", "cuando", "sobre", "desde", "porque", "entre", "estoy", "puede",
                     "hasta", "nuestro", "nuestra", "también", "donde", "mucho", "mucha", "otros", "otras"}),
}
_MIN_WORD = 5
_GREETING_WORDS = 5
_PHRASE_WORDS = 3

#: A greeting word alone on its line ("Hello,", "Hallo,", "Hola:"): the name it was meant to carry is missing.
#: "Bonjour," and "Guten Tag," are complete greetings and not on the list.
_EMPTY_GREETING = lazy_pattern(
    r"(?:hi|hello|hey|dear|hallo|liebe|lieber|sehr geehrte|sehr geehrter|cher|chère|chers|salut|hola|"
    r"estimado|estimada|estimados|querido|querida)\s*[,:;!.]?",
    re.IGNORECASE,
)
#: A line of a list: "- ", "* ", "• ", "1. " or "1) " first.
_LIST_LINE = lazy_pattern(r"\s*(?:[-*\u2022\u2013]|\d{1,2}[.)])\s")
_WORDS = lazy_pattern(r"[^\W\d_]+(?:['\u2019][^\W\d_]+)*")
#: Punctuation that lost its neighbour when an optional part rendered empty.
_DANGLING: tuple[tuple[re.Pattern[str], str], ...] = (
    (lazy_pattern(r"\(\s*\)|\"\s*\"|“\s*”|„\s*“|«\s*»|\u2018\s*\u2019"), "empty brackets or quotes"),
    (lazy_pattern(r"[,;:]\s*[,.;:]|(?<!\.)\.\s*[,;:]|(?<![.\w])\.\s+\.(?!\.)|(?<!\.)\.\.(?!\.)"),
     "punctuation doubled"),
    (lazy_pattern(r"^[ \t]*[,.;:)!?]", re.MULTILINE), "a line that starts with punctuation"),
    (lazy_pattern(r"\S[ \t]{2,}\S"), "two spaces in a row"),
)
#: A space before these is a mistake in English, German and Spanish; French typography puts one before ; : ! ?
_SPACE_BEFORE = {"fr": lazy_pattern(r"\w[ \t]+[,.]")}
_SPACE_BEFORE_DEFAULT = lazy_pattern(r"\w[ \t]+[,.;:!?]")


def prose_problems(body: str, lang: str = "en", *, inserted: Iterable[str] = ()) -> list[str]:
    """What makes ``body`` read as machine-made, one message per problem (empty when it reads well).

    ``inserted`` are values the template filled in (note, signature, subject, names): they are not counted
    as repetitions, and punctuation is judged around them as usual.
    """
    problems: list[str] = []
    first_line = next((line.strip() for line in body.splitlines() if line.strip()), "")
    if _EMPTY_GREETING.fullmatch(first_line):
        problems.append(f'empty greeting "{first_line}": greet by name, or with a greeting that needs none')
    lines = body.strip("\n").split("\n")
    if len(lines) > 1 and _is_greeting_line(lines[0]) and lines[1].strip():
        problems.append(f'the greeting "{lines[0].strip()}" runs into the first paragraph; leave a blank line')
    for pattern, what in _DANGLING:
        for match in pattern.finditer(body):
            problems.append(f'{what}: "{_excerpt(body, match.start(), match.end())}"')
    for match in _SPACE_BEFORE.get(lang, _SPACE_BEFORE_DEFAULT).finditer(body):
        problems.append(f'a space before punctuation: "{_excerpt(body, match.start(), match.end())}"')
    own = _without(body, inserted)
    lines = own.split("\n")
    counts, phrases = _repetitions("\n".join(line for line in lines if not _LIST_LINE.match(line)), lang)
    busiest_words: Counter[str] = Counter()
    busiest_phrases: Counter[tuple[str, ...]] = Counter()
    for line in filter(_LIST_LINE.match, lines):  # a list counts as its busiest line (see the module docstring)
        line_counts, line_phrases = _repetitions(line, lang)
        busiest_words |= line_counts
        busiest_phrases |= line_phrases
    counts += busiest_words
    phrases += busiest_phrases
    for word, count in counts.items():
        if count > 1:
            problems.append(f'"{word}" is used {count} times; vary the wording')
    for phrase, count in phrases.items():
        if count > 1:
            problems.append(f'"{" ".join(phrase)}" is used {count} times; vary the wording')
    return problems


def _repetitions(text: str, lang: str) -> tuple[Counter[str], Counter[tuple[str, ...]]]:
    """Longer words and three-word phrases of ``text``, counted (function words and dates left out)."""
    words = [word.casefold().replace("\u2019", "'") for word in _WORDS.findall(text)]
    skip = _FUNCTION_WORDS.get(lang, frozenset()) | _calendar_words(lang)
    counts = Counter(word for word in words if len(word) >= _MIN_WORD and word not in skip)
    calendar = _calendar_words(lang)
    phrases = Counter(phrase for phrase in (tuple(words[i:i + _PHRASE_WORDS])
                                            for i in range(len(words) - _PHRASE_WORDS + 1))
                      if not calendar.intersection(phrase))  # "el 3 de marzo ... el 10 de marzo" is two dates
    return counts, phrases


@lru_cache(maxsize=16)
def _calendar_words(lang: str) -> frozenset[str]:
    """Month and weekday names (from CLDR): two dates in one note ("sent on 3 March, planned for 10 March")
    repeat the month without any clumsiness."""
    locale = locale_for(lang)
    names = [*locale.months["format"]["wide"].values(), *locale.months["stand-alone"]["wide"].values(),
             *locale.days["format"]["wide"].values(), *locale.days["stand-alone"]["wide"].values()]
    return frozenset(str(name).casefold() for name in names)


def _is_greeting_line(line: str) -> bool:
    """"Hi Ana,", "Hallo zusammen,", "Hola, Ana:": a few words ending in a comma or colon, on their own line."""
    text = line.strip()
    return text.endswith((",", ":")) and len(text.split()) <= _GREETING_WORDS


def _without(body: str, inserted: Iterable[str]) -> str:
    """The body with each inserted value cut out (longest first, so a name inside the note goes with it)."""
    for value in sorted({v for v in inserted if v and v.strip()}, key=len, reverse=True):
        body = body.replace(value, " ")  # a space, not a newline: a list line stays one line
    return body


def _excerpt(text: str, start: int, end: int) -> str:
    return " ".join(text[max(0, start - 12):end + 12].split())


def inserted_values(ctx: RenderContext, lang: str) -> list[str]:
    """The text a render of ``ctx`` fills in that the template's author did not choose: the note, signature,
    subject, every name and address, and each action item's task, owner and date phrases."""
    values = template_variables(ctx, lang=lang)
    people = cast(list[dict[str, str]], values["recipients"]) + cast(list[dict[str, str]], values["cc"])
    inserted = [str(values[name] or "") for name in _INSERTED]
    inserted += [person[key] for person in people for key in ("name", "first_name", "email")]
    for item in cast(list[dict[str, object]], values["items"]):
        inserted += [str(item[key] or "") for key in ("task", "owner_name", "owner_email", "due_when", "due_date")]
    return inserted


def sample_prose_problems(variants: Iterable[TemplateVariant], *, total_touches: int,
                          cadences: Collection[int] | None = None) -> list[tuple[str, str, str]]:
    """Render every variant for every sample of its stage (:func:`followupd.compose.samples.contexts_for_stage`)
    and touch, and return ``(variant key, sample label, problem)`` for each rendered note that does not read
    well. ``cadences`` limits the cadence lengths tried (every length up to ``total_touches`` by default).

    Values the template inserts (:func:`inserted_values`) are passed as ``inserted``; a variant that does not
    render is the business of ``templates check``, not of this one.
    """
    found: list[tuple[str, str, str]] = []
    for variant in variants:
        contexts = [(label, ctx) for label, ctx in contexts_for_stage(variant.stage, total_touches=total_touches)
                    if cadences is None or ctx.total_touches in cadences]
        for label, ctx in contexts:
            try:
                body = render(variant, ctx).body
            except TemplateError:
                continue
            found += [(variant.key, label, problem)
                      for problem in prose_problems(body, variant.lang, inserted=inserted_values(ctx, variant.lang))]
    return found


#: Template variables whose text the user or the recipients chose, not the template's author.
_INSERTED = ("note", "signature", "topic", "original_subject", "names", "first_names", "user_name", "owner_name")

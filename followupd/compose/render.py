"""Rendering a template for one thread: the variables it sees, and subject and body as text.

Pure: no network, no clock (the caller passes ``now``), no database. The engine decides *when* a follow-up is
due; this module decides *what it says*. ``templates/README.md`` documents the variables that
:func:`template_variables` provides. Templates run in one sandboxed, strict Jinja environment, which also
checks each file when it loads (:func:`check_source`), so a template that loads renders.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from types import TracebackType
from zoneinfo import ZoneInfo

import jinja2
from jinja2 import meta as jinja_meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

from followupd.compose import dates
from followupd.compose.clean import clean_text, reply_subject, sanitize_header_value, strip_reply_prefixes
from followupd.compose.language import DEFAULT_LANGUAGE
from followupd.compose.variant import TemplateVariant, template_error
from followupd.mail.headers import Address

#: Every name a template may use; :func:`template_variables` provides exactly these (a test holds the line).
VARIABLES: tuple[str, ...] = (
    "recipients", "cc", "first_names", "first_name", "names", "subject", "original_subject", "topic",
    "reply_subject",
    "sent_at", "sent_when", "sent_date", "days_since", "touch_number", "total_touches", "is_final",
    "promised", "promised_when", "promised_date", "user_name", "signature", "note", "sent_month", "touches_sent",
    "items", "owner_name",
)

#: The states an action item can be in (``followupd items``); ``overdue`` is computed, not a state.
ITEM_STATES: tuple[str, ...] = ("open", "done", "holding", "declined", "dropped")
#: States whose due date still matters: only these can be overdue.
_PENDING_STATES = frozenset({"open", "holding"})

#: More than this many named recipients and the greeting says "everyone" instead of a list of names.
MAX_GREETING_NAMES = 3

#: The two parts of a template compile under the variant's key plus these, so a traceback names the part.
_BODY_FILENAME_SUFFIX = "#body"
_SUBJECT_FILENAME_SUFFIX = "#subject"


# ------------------------------------------------------------------------------------------------- variables


@dataclass(frozen=True)
class RenderContext:
    """What the engine knows about one thread at render time; datetimes must be timezone-aware."""

    recipients: tuple[Address, ...]
    cc: tuple[Address, ...]
    original_subject: str
    sent_at: datetime
    now: datetime
    tz: ZoneInfo
    touch_number: int
    total_touches: int
    promised: date | None
    user_name: str
    signature: str
    note: str | None
    #: A meeting recap's action items: for a check-in the owner's own open items, for a roll-up every item.
    #: Empty for a follow-up or a promise, so their templates never see a stray item.
    items: tuple[ActionItem, ...] = ()
    #: The person a check-in is addressed to; None for everything else.
    owner: Address | None = None


@dataclass(frozen=True)
class ActionItem:
    """One agreed action item as a template sees it: what, by when, whose, and how it stands."""

    task: str
    due: date | None
    owner: Address
    state: str = "open"

    def __post_init__(self) -> None:
        if self.state not in ITEM_STATES:
            raise ValueError(f"unknown item state {self.state!r}; expected one of {', '.join(ITEM_STATES)}")


def template_variables(ctx: RenderContext, *, lang: str = DEFAULT_LANGUAGE) -> dict[str, object]:
    """The names a template sees (documented in templates/README.md); see VARIABLES.

    Date phrases and name lists are written in ``lang``, the language of the template that will use them
    (:mod:`followupd.compose.dates`), so a French note says "mardi dernier" and "Ana et Bob".
    """
    if not 1 <= ctx.touch_number <= ctx.total_touches:
        raise ValueError(f"touch {ctx.touch_number} of {ctx.total_touches} is not a valid touch")
    today = _local(ctx.now, ctx.tz).date()
    sent_at = _local(ctx.sent_at, ctx.tz)
    people = [_person(address) for address in ctx.recipients]
    named_first = [p["first_name"] for p in people if p["first_name"]]
    original = sanitize_header_value(ctx.original_subject)
    note = clean_text(ctx.note).strip() if ctx.note else None
    return {
        "recipients": people,
        "cc": [_person(address) for address in ctx.cc],
        "first_names": (dates.everyone(lang) if len(named_first) > MAX_GREETING_NAMES
                        else dates.join_names(named_first, lang)),
        "first_name": people[0]["first_name"] if people else "",
        "names": dates.join_names([p["name"] or p["email"] for p in people], lang),
        "subject": original,  # what authors expect the name to mean: the subject as the user wrote it
        "original_subject": original,
        "topic": strip_reply_prefixes(original),
        "reply_subject": reply_subject(original),
        "sent_at": sent_at,
        "sent_when": dates.human_day(sent_at.date(), today, lang),
        "sent_date": dates.day_month(sent_at.date(), today, lang),
        "sent_month": dates.month_phrase(sent_at.date(), today, lang),
        "days_since": (today - sent_at.date()).days,
        "touch_number": ctx.touch_number,
        "touches_sent": ctx.touch_number - 1,
        "total_touches": ctx.total_touches,
        "is_final": ctx.touch_number == ctx.total_touches,
        "promised": ctx.promised,
        "promised_when": dates.human_day(ctx.promised, today, lang) if ctx.promised else "",
        "promised_date": dates.day_month(ctx.promised, today, lang) if ctx.promised else "",
        "user_name": sanitize_header_value(ctx.user_name),
        "signature": clean_text(ctx.signature).strip() or sanitize_header_value(ctx.user_name),
        "note": note or None,
        "items": [_item(item, today, lang) for item in ctx.items],
        "owner_name": _person(ctx.owner)["first_name"] if ctx.owner is not None else "",
    }


def _item(item: ActionItem, today: date, lang: str) -> dict[str, object]:
    """An item for a template: its due date also as phrases in the template's language, and whether it is late
    (only an open or holding item can be: a done or dropped one is finished whatever its date said)."""
    owner = _person(item.owner)
    return {
        "task": clean_text(item.task).strip(),
        "due": item.due,
        "due_when": dates.human_day(item.due, today, lang) if item.due else "",
        "due_date": dates.day_month(item.due, today, lang) if item.due else "",
        "owner_name": owner["first_name"] or owner["name"],
        "owner_email": owner["email"],
        "state": item.state,
        "overdue": item.due is not None and item.due < today and item.state in _PENDING_STATES,
    }


def _person(address: Address) -> dict[str, str]:
    name = sanitize_header_value(address.name)
    if "@" in name:  # a display name that is just an address again is no name at all
        name = ""
    return {"name": name, "first_name": first_name_of(name), "email": sanitize_header_value(address.email)}


def first_name_of(name: str) -> str:
    """"Ana Lima" -> "Ana"; "Lima, Ana" -> "Ana" (directory style); "" when there is no usable name."""
    name = sanitize_header_value(name).strip("\"'")
    if "," in name:
        name = name.split(",", 1)[1]
    parts = name.split()
    return parts[0] if parts and "@" not in parts[0] else ""


def human_join(items: Sequence[str]) -> str:
    """"Ana", "Ana and Bob", "Ana, Bob and Cy" (English; :func:`followupd.compose.dates.join_names` for others)."""
    return dates.join_names(items, DEFAULT_LANGUAGE)


def human_when(moment: datetime, now: datetime, tz: ZoneInfo, *, lang: str = DEFAULT_LANGUAGE) -> str:
    """A phrase that fits after a verb ("I wrote {when}"), by calendar day in the user's zone, in ``lang``:
    see :func:`followupd.compose.dates.human_day`."""
    return dates.human_day(_local(moment, tz).date(), _local(now, tz).date(), lang)


def _local(moment: datetime, tz: ZoneInfo) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment.isoformat()}: pass timezone-aware datetimes")
    return moment.astimezone(tz)


# ------------------------------------------------------------------------------------------------- rendering


@dataclass(frozen=True)
class Rendered:
    """A rendered follow-up; ``template`` is the variant key, recorded with the touch."""

    subject: str
    body: str
    template: str


def render(variant: TemplateVariant, ctx: RenderContext) -> Rendered:
    """Render subject and body; any template failure becomes a TemplateError naming the file's own line."""
    variables = template_variables(ctx, lang=variant.lang)
    subject_text = _render_part(variant, variant.subject_source, 1, _SUBJECT_FILENAME_SUFFIX, variables)
    subject = sanitize_header_value(subject_text)
    if not subject:
        raise template_error(variant.path, 1, "the subject rendered empty")
    body_text = _render_part(variant, variant.body_source, variant.body_first_line, _BODY_FILENAME_SUFFIX,
                             variables)
    body = _tidy_body(body_text)
    if not body.strip():
        raise template_error(variant.path, variant.body_first_line, "the body rendered empty")
    return Rendered(subject=subject, body=body, template=variant.key)


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    """Sandboxed because template packs get copied from other people; strict so a typo fails loudly."""
    return ImmutableSandboxedEnvironment(
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


#: Compiled templates by (source, filename): the load check compiles each part once and rendering reuses it.
_COMPILED: dict[tuple[str, str], jinja2.Template] = {}
_MAX_COMPILED = 1024


def _compile(source: str, filename: str, tree: jinja2.nodes.Template | None = None) -> jinja2.Template:
    """Compile with our own filename so the rewritten traceback tells us which part and line failed.

    ``tree``: the parse the load check already made. Parsing is a third of a library's load time, and every
    ``followupd`` command that drafts loads the whole library, so a part is parsed once, not twice.
    """
    key = (source, filename)
    compiled = _COMPILED.get(key)
    if compiled is None:
        env = _environment()
        code = env.compile(tree if tree is not None else source, name=filename, filename=filename)
        compiled = env.template_class.from_code(env, code, env.make_globals(None))
        if len(_COMPILED) >= _MAX_COMPILED:
            _COMPILED.clear()
        _COMPILED[key] = compiled
    return compiled


def _render_part(
    variant: TemplateVariant, source: str, first_line: int, suffix: str, variables: Mapping[str, object]
) -> str:
    filename = f"{variant.key}{suffix}"
    try:
        return _compile(source, filename).render(variables)
    except jinja2.TemplateSyntaxError as exc:
        raise template_error(variant.path, first_line + (exc.lineno or 1) - 1, exc.message or "syntax error") from exc
    except Exception as exc:  # whatever a template does wrong (undefined, 1/0, ...) is a template error
        relative = _template_line(exc.__traceback__, filename)
        line = first_line + relative - 1 if relative is not None else None
        message = exc.message if isinstance(exc, jinja2.TemplateError) and exc.message else str(exc)
        raise template_error(variant.path, line, message or type(exc).__name__) from exc


def literal_text(source: str) -> Iterator[tuple[int, str]]:
    """The text a template's author wrote (Jinja data and string literals), each with its line in ``source``;
    nothing for a source that does not parse (loading reports that)."""
    try:
        for lineno, token, value in _environment().lex(source):
            if token in ("data", "string"):
                yield lineno, value
    except jinja2.TemplateSyntaxError:
        return


def _template_line(tb: TracebackType | None, filename: str) -> int | None:
    """Jinja rewrites tracebacks so template frames carry the template's filename and line; take the last."""
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _tidy_body(text: str) -> str:
    """Skipped optional paragraphs must not leave holes: trim line ends, at most one blank line in a row."""
    lines = [line.rstrip() for line in clean_text(text).split("\n")]
    tidy: list[str] = []
    for line in lines:
        if line or (tidy and tidy[-1]):
            tidy.append(line)
    while tidy and not tidy[-1]:
        tidy.pop()
    return "\n".join(tidy) + "\n"


# ------------------------------------------------------------------------------------------------- load check


def check_source(variant: TemplateVariant) -> None:
    """Syntax errors and unknown names are found here, at load time, rather than on the due day."""
    _check_part(variant, variant.subject_source, 1, _SUBJECT_FILENAME_SUFFIX)
    _check_part(variant, variant.body_source, variant.body_first_line, _BODY_FILENAME_SUFFIX)


def _check_part(variant: TemplateVariant, source: str, first_line: int, suffix: str) -> None:
    env = _environment()
    try:
        tree = env.parse(source)
        # Read the names before compiling: the compiler's optimiser may rewrite the tree it is given.
        unknown = jinja_meta.find_undeclared_variables(tree) - set(VARIABLES) - set(env.globals)
        first_use = {name: _first_use_line(tree, name) for name in unknown}
        _compile(source, f"{variant.key}{suffix}", tree)  # the compiler, not the parser, refuses unknown filters
    except jinja2.TemplateSyntaxError as exc:
        raise template_error(variant.path, first_line + (exc.lineno or 1) - 1, exc.message or "syntax error") from exc
    if unknown:
        name = sorted(unknown)[0]
        relative = first_use[name]
        line = first_line + relative - 1 if relative else None
        raise template_error(variant.path, line, f"unknown variable {name!r}{_nearest_name(name, env)}; "
                                                 "see templates/README.md for the list")


def _nearest_name(name: str, env: jinja2.Environment) -> str:
    """``; did you mean 'first_name'?`` for a typo of a known name (difflib's ratio, as ``[templates] disable``
    hints do), else nothing: a wrong guess would mislead more than no guess."""
    known = sorted({*VARIABLES, *env.globals})
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    if not close:
        close = [word for word in known if name.lower() == word.lower()]
    return f"; did you mean {close[0]!r}?" if close else ""


def _first_use_line(tree: jinja2.nodes.Template, name: str) -> int | None:
    lines = [node.lineno for node in tree.find_all(jinja2.nodes.Name) if node.name == name]
    return min(lines) if lines else None

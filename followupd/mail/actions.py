"""The action-item list of a meeting recap: where it is and what each line says (owner words, task, due words).

Pure; never raises. The list is found under a heading ("Action items", "Next steps", "Aufgaben", "Prochaines
étapes", "Próximos pasos"...), as a table whose header names owner and task columns, or, for a recap sent
with ``+followup-actions`` (``explicit``), as any list in the message. Quoted history is cut first
(:func:`followupd.mail.bodytext.strip_quoted`): an earlier recap quoted below is not this one's list.

HTML is preferred over its plain twin: its lists and tables keep their structure. Before the shared HTML
reader (:func:`followupd.mail.bodytext.html_to_text`) turns it into lines, each ``<li>`` gets a "• " and each
table cell a "¦ " in front, and block tags inside a cell are flattened, so a table row stays one line of
cells and a list item is marked like a plain-text one. Owners are not matched here (that needs the recap's
recipients: :mod:`followupd.planning.owners`), nor are dates read (:mod:`followupd.mail.duedates`).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import compat32

from followupd.mail import internal_errors
from followupd.mail.bodytext import decode_payload, html_to_text, strip_quoted
from followupd.mail.patterns import lazy_pattern

__all__ = ["HEADINGS", "ActionLine", "RecapText", "action_lines", "recap_text"]

logger = logging.getLogger(__name__)

#: Section headings that introduce action items, per language (compared lower-case, without punctuation).
HEADINGS: dict[str, tuple[str, ...]] = {
    "en": ("action items", "action item", "actions", "action points", "next steps", "suggested next steps",
           "to do", "to-do", "to-dos", "to dos", "todo", "todos", "follow-ups", "follow ups", "follow-up",
           "follow-up items", "follow-up tasks", "followups", "owners", "tasks", "assigned tasks",
           "action items and owners", "next steps and owners", "open items"),
    "de": ("aufgaben", "nächste schritte", "naechste schritte", "maßnahmen", "massnahmen", "offene punkte",
           "aktionspunkte", "to-dos und verantwortliche", "nächste schritte und verantwortliche", "wer macht was"),
    "fr": ("prochaines étapes", "prochaines etapes", "actions à mener", "actions a mener", "tâches", "taches",
           "à faire", "points d'action", "suites à donner", "suivi", "qui fait quoi", "plan d'action"),
    "es": ("próximos pasos", "proximos pasos", "siguientes pasos", "tareas", "acciones", "pendientes",
           "puntos de acción", "tareas pendientes", "quién hace qué", "acuerdos y próximos pasos"),
}
_HEADING_LANG = {phrase: lang for lang, phrases in reversed(HEADINGS.items()) for phrase in phrases}

#: Column titles of an action table.
_OWNER_COLUMNS = frozenset({
    "owner", "owners", "who", "responsible", "assignee", "assigned to", "person", "name", "lead", "dri",
    "verantwortlich", "wer", "zuständig", "zustaendig", "verantwortung", "responsable", "qui", "porteur",
    "propietario", "persona", "encargado", "quién", "quien", "asignado a",
})
_TASK_COLUMNS = frozenset({
    "task", "tasks", "action", "action item", "actions", "item", "what", "description", "to do", "todo",
    "next step", "aufgabe", "aufgaben", "was", "maßnahme", "massnahme", "tâche", "tache", "quoi", "sujet",
    "tarea", "acción", "accion", "qué", "que", "descripción", "descripcion",
})
_DUE_COLUMNS = frozenset({
    "due", "due date", "deadline", "when", "date", "by", "by when", "target", "target date", "eta",
    "fällig", "faellig", "bis", "termin", "datum", "wann", "frist", "bis wann", "échéance", "echeance",
    "quand", "pour le", "délai", "fecha", "plazo", "cuándo", "cuando", "fecha límite", "fecha limite",
})

#: Words that end a recap's list when a line starts with them (sign-offs).
_CLOSING = lazy_pattern(r"(?:thanks|thank you|best|regards|cheers|kind regards|danke|viele grüße|beste grüße"
                      r"|mit freundlichen|gruß|lg|merci|cordialement|bien à vous|bonne journée|gracias"
                      r"|saludos|un saludo|atentamente)(?!\w)", re.IGNORECASE)
_MARKER = lazy_pattern(r"\s*(?:[-*•·◦▪‣\u2013§o]\s+|\d{1,2}[.)]\s+|[a-z][.)]\s+(?=\S)|\[[ xX]?\]\s*|[☐☑✓✔]\s*)")
#: Markdown emphasis around a name or a word ("**Bob**: ..."): how it looks, not what it says.
_EMPHASIS = lazy_pattern(r"\*\*|__")
_CELL = lazy_pattern(r"\s*[|¦]\s*|\t+\s*|\s{3,}")
_SEPARATOR_ROW = lazy_pattern(r"[\s|¦:+=-]*")
#: What may follow a heading phrase: "Action items (owners)", "Next steps - Q1", "Action items from today".
_HEADING_REST = lazy_pattern(r"\s*(?:\(.{0,40}\)|[-\u2013\u2014:]\s*.{0,40}|(?:from|for|aus|de|del)\s.{0,40})")
#: At most this many lines of one list (a recap is read, not a log file).
_MAX_ITEMS = 200


@dataclass(frozen=True)
class ActionLine:
    """One item as written: ``text`` is the line without its list marker; a table row gives ``owner`` and
    ``due`` from their columns (None when it has no such column); ``evidence`` is the line as shown."""

    text: str
    evidence: str
    owner: str | None = None
    due: str | None = None
    from_table: bool = False


@dataclass(frozen=True)
class RecapText:
    """The lines found: ``lang`` is the heading's language ("en" when none says otherwise)."""

    lines: tuple[ActionLine, ...]
    lang: str
    heading: str | None


def recap_text(raw: bytes) -> str:
    """The recap's own text, HTML preferred and marked (see the module docstring), without quoted history."""
    msg = BytesParser(policy=compat32).parsebytes(bytes(raw))
    html = plain = None
    for count, part in enumerate(msg.walk()):
        if count > 50:
            break
        if part.is_multipart() or "attachment" in str(part.get("Content-Disposition", "")).lower():
            continue
        subtype = part.get_content_type()
        if subtype == "text/html" and html is None:
            html = decode_payload(part)
        elif subtype == "text/plain" and plain is None:
            plain = decode_payload(part)
    if html and html.strip():
        return strip_quoted(_blank_runs(html_to_text(_marked_html(html[:400_000]))), max_chars=60_000)
    return strip_quoted(plain or "", max_chars=60_000)


def action_lines(raw: bytes, *, explicit: bool = False) -> RecapText:
    """The action lines of a recap; never raises (a bug is recorded and reads as "no lines")."""
    try:
        return find_lines(recap_text(raw), explicit=explicit)
    except Exception as exc:  # last resort: one hostile recap must not stop a cycle
        internal_errors.record("actions", exc, logger=logger, doing="reading a recap's action items; none are read")
        return RecapText((), "en", None)


def find_lines(text: str, *, explicit: bool = False) -> RecapText:
    """The action lines of a recap's text: under headings, in action tables, or (explicit) any list."""
    lines = text.split("\n")
    found: list[ActionLine] = []
    lang, heading = "en", None
    i = 0
    while i < len(lines) and len(found) < _MAX_ITEMS:
        title = _heading(lines[i])
        if title is not None:
            if heading is None:   # the first heading's language is the recap's
                lang, heading = _HEADING_LANG[title], lines[i].strip()
            section, i = _section(lines, i + 1)
            found.extend(section)
            continue
        if _table_header(lines[i]) is not None:
            rows, i = _table(lines, i)
            found.extend(rows)
            continue
        i += 1
    if not found and explicit:
        found = [ActionLine(_unmark(line), line.strip()) for line in lines if _MARKER.match(line) and _unmark(line)]
    return RecapText(tuple(found[:_MAX_ITEMS]), lang, heading)


# ------------------------------------------------------------------------------------------------ sections

def _heading(line: str) -> str | None:
    """The heading phrase a line is (``## Next steps:``, ``**Action items**``, ``3. Aufgaben``), or None."""
    if len(line) > 80:
        return None
    words = re.sub(r"^[\s#*_=>\d.)-]*|[\s#*_=:.\-\u2013\u2014]*$", "", line.strip()).lower()
    words = re.sub(r"\s+", " ", words.replace("\u2019", "'")).strip(" *_")
    if words in _HEADING_LANG:
        return words
    for phrase in _HEADING_LANG:
        rest = words[len(phrase):]
        if words.startswith(phrase) and _HEADING_REST.fullmatch(rest):
            return phrase
    if line.rstrip().endswith(":"):   # "Great call. Next steps:", "Here are the action items:"
        for phrase in _HEADING_LANG:
            if words.endswith(" " + phrase) and len(phrase) > 5:
                return phrase
    return None


def _section(lines: list[str], start: int) -> tuple[list[ActionLine], int]:
    """The items under a heading, and the index where the section ends.

    Marked lines (bullets, numbers, checkboxes) may be separated by blank lines; unmarked lines (one item a
    paragraph, as Outlook writes them) end at a blank line. A sign-off, another heading, a table or a line
    ending in ":" ends any list."""
    out: list[ActionLine] = []
    marked: bool | None = None
    i = start
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if not stripped:
            if marked is False and out:
                break
            i += 1
            continue
        if _heading(line) is not None or _CLOSING.match(stripped):
            break
        if _table_header(line) is not None:
            rows, i = _table(lines, i)
            out.extend(rows)
            if out:
                break
            continue
        is_marked = bool(_MARKER.match(line))
        if marked is None:
            marked = is_marked
        elif marked and not is_marked:
            break
        if not is_marked and stripped.endswith(":") and len(stripped.split()) <= 5:
            break
        text = _unmark(line)
        if text:
            out.append(ActionLine(text, stripped))
        i += 1
        if len(out) >= _MAX_ITEMS:
            break
    return out, i


def _unmark(line: str) -> str:
    text = line.strip()
    while True:
        match = _MARKER.match(text)
        if match is None or match.end() == 0:
            break
        text = text[match.end():]
    return _EMPHASIS.sub("", text).strip()


# -------------------------------------------------------------------------------------------------- tables

def _cells(line: str) -> list[str]:
    stripped = line.strip().strip("|¦").strip()
    return [cell.strip(" *_") for cell in _CELL.split(stripped)]


def _table_header(line: str) -> tuple[int, int, int | None] | None:
    """(owner, task, due) column indexes of an action table's header row, or None."""
    if "|" not in line and "¦" not in line and "\t" not in line and "   " not in line.strip():
        return None
    cells = [re.sub(r"\s+", " ", cell.lower()).strip(" :") for cell in _cells(line)]
    owner = next((n for n, cell in enumerate(cells) if cell in _OWNER_COLUMNS), None)
    task = next((n for n, cell in enumerate(cells) if cell in _TASK_COLUMNS and n != owner), None)
    due = next((n for n, cell in enumerate(cells) if cell in _DUE_COLUMNS and n not in (owner, task)), None)
    if owner is None or task is None:
        return None
    return owner, task, due


def _table(lines: list[str], start: int) -> tuple[list[ActionLine], int]:
    """The rows of an action table from its header row on; the table ends at the first row of fewer cells."""
    header = _table_header(lines[start])
    assert header is not None
    owner, task, due = header
    width = max(owner, task, due or 0) + 1
    out: list[ActionLine] = []
    i = start + 1
    while i < len(lines) and len(out) < _MAX_ITEMS:
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        if _SEPARATOR_ROW.fullmatch(line):
            i += 1
            continue
        cells = _cells(line)
        if len(cells) < min(width, 2) or _heading(line) is not None:
            break
        cells += [""] * (width - len(cells))
        if cells[task]:
            shown = " | ".join(cell for cell in cells if cell)
            out.append(ActionLine(cells[task], shown, owner=cells[owner] or None,
                                  due=(cells[due] if due is not None else None), from_table=True))
        i += 1
    return out, i


# ---------------------------------------------------------------------------------------------------- HTML

_LI = lazy_pattern(r"(<li\b[^>]*>(?:\s*<(?:p|div|span|b|strong|font)\b[^>]*>)*)", re.IGNORECASE)
#: A cell holding lists, headings or a nested table is layout (a whole email in one cell), not a table cell.
_LAYOUT_CELL = lazy_pattern(r"<(?:ul|ol|li|table|h\d)\b", re.IGNORECASE)
_TD = lazy_pattern(r"<(t[dh])\b[^>]*>(.*?)(?=<t[dh]\b|</tr|<tr\b|</table|\Z)", re.IGNORECASE | re.DOTALL)
_BLOCK_IN_CELL = lazy_pattern(r"</?(?:p|div|br|h\d|ul|ol|li|span)\b[^>]*>", re.IGNORECASE)
_CLOSE_CELL = lazy_pattern(r"</t[dh]\s*>", re.IGNORECASE)


def _marked_html(html: str) -> str:
    """List items get a "• " and table cells a "¦ " before their text; blocks inside a cell are flattened."""
    html = _LI.sub(r"\1• ", html)
    return _TD.sub(_marked_cell, html)


def _marked_cell(match: re.Match[str]) -> str:
    content = match.group(2)
    if len(content) > 2000 or _LAYOUT_CELL.search(content):
        return match.group()
    return " ¦ " + _BLOCK_IN_CELL.sub(" ", _CLOSE_CELL.sub(" ", content))


def _blank_runs(text: str) -> str:
    """HTML blocks leave a blank line between any two; only two or more in a row were a visible gap."""
    out: list[str] = []
    blanks = 0
    for line in text.split("\n"):
        if not line.strip():
            blanks += 1
            continue
        if out and blanks >= 2:
            out.append("")
        blanks = 0
        out.append(line)
    return "\n".join(out)


"""Template choice + render -> an RFC 5322 draft that replies in the tracked thread.

Pure: no network, no clock (the caller passes ``now``), no database. The engine decides *when* a follow-up is
due; this module decides *what it says* and *how it is framed* so that mail clients thread it and nothing in
it can be used to smuggle headers.

Template files live in stage folders (``first/``, ``middle/``, ``later/``, ``final/``), one variant per
``<name>.txt``: a ``Subject:`` line, a blank line, then the body, Jinja in both. ``templates/README.md`` is
the user-facing description of the format and of the variables that :func:`template_variables` provides.
Those folders are the English set; another language's set lives in ``<lang>/<stage>/``. Beside them,
``commitment/reminder/`` and ``commitment/update/`` hold the reminder to the user and the update draft for
a promise the user made (``+followup-me``); no follow-up stage ever uses them. The user's folder
shadows the built-in one file by file (:func:`scan_templates`), and :class:`TemplateSource` reloads the
library when a file changes.

Choices made here (and why):

* A library needs at least one variant in any stage. Missing stages fall back to the nearest stage that
  exists (:func:`stage_for_touch`), so a user may keep a single folder; ``final`` is only a last resort for a
  non-final touch because its variants ask "should I stop?", which reads oddly halfway through a cadence.
* A single-touch cadence uses ``final``: the only follow-up is also the last, and the last one asks whether to
  stop.
* Unknown variable names are refused when the library loads, with file and line, so a typo surfaces at
  start-up rather than on the day a follow-up is due.
* Shadowing is per file, not per folder: a user who rewrites one note keeps getting the rest of the library
  (and its new variants after an upgrade); ``disable`` is the explicit way to drop a built-in note, rather than
  a magic empty file that looks like a mistake.
* Language detection uses the subject (and Content-Language when known): at draft time followupd has read
  headers only, never bodies. It is a small word vote, not a model, and says "don't know" rather than guess.
* ``reply_subject("")`` is ``"Re:"``, what mail clients produce; Gmail threads on the normalised subject, and
  an invented ``(no subject)`` would not match the empty original.
"""

from __future__ import annotations

import difflib
import fnmatch
import hashlib
import importlib.resources
import logging
import os
import re
import unicodedata
import uuid
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from email import policy as email_policy
from email.headerregistry import Address as EmailAddress
from email.message import EmailMessage
from email.policy import Policy
from functools import lru_cache
from pathlib import Path
from types import TracebackType
from zoneinfo import ZoneInfo

import jinja2
from jinja2 import meta as jinja_meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

from followupd.compose import dates
from followupd.errors import TemplateError
from followupd.mail.headers import Address

logger = logging.getLogger(__name__)

STAGES: tuple[str, ...] = ("first", "middle", "later", "final")

#: The folder holding the templates for the user's own promises (``+followup-me``), beside the stage folders.
COMMITMENT_FOLDER = "commitment"
#: Its two sets, each a "stage" of its own that a follow-up never uses: the reminder to the user, and the
#: update draft to the recipients. Their keys look like ``commitment/reminder/<name>.txt``.
REMINDER_STAGE = f"{COMMITMENT_FOLDER}/reminder"
UPDATE_STAGE = f"{COMMITMENT_FOLDER}/update"
COMMITMENT_STAGES: tuple[str, ...] = (REMINDER_STAGE, UPDATE_STAGE)
ALL_STAGES: tuple[str, ...] = STAGES + COMMITMENT_STAGES

#: Every name a template may use; :func:`template_variables` provides exactly these (a test holds the line).
VARIABLES: tuple[str, ...] = (
    "recipients", "cc", "first_names", "first_name", "names", "subject", "original_subject", "topic",
    "reply_subject",
    "sent_at", "sent_when", "sent_date", "days_since", "touch_number", "total_touches", "is_final",
    "promised", "promised_when", "promised_date", "user_name", "signature", "note", "sent_month", "touches_sent",
)

#: More than this many named recipients and the greeting says "everyone" instead of a list of names.
MAX_GREETING_NAMES = 3

#: References keeps the first id (the thread root) and the most recent ones, as RFC 5322 §3.6.4 allows.
MAX_REFERENCES = 20

_SUBJECT_LINE = re.compile(r"subject:(?P<value>.*)", re.IGNORECASE)
_REPLY_PREFIX = re.compile(
    r"^\s*(?:re|fw|fwd|aw|wg|sv|vs|antw|odp|res)\s*(?:\[\d+\]|\(\d+\))?\s*[:\uff1a]\s*", re.IGNORECASE
)
_MSG_ID = re.compile(r"<[^<>\s@]+@[^<>\s@]+>")
# Ids of other people's messages are repeated as they came: real ones break RFC 5322 (two "@", no "@"), and a
# reply must still name them. Only what could break the header (space, CR/LF, angle brackets) is refused.
_FOREIGN_MSG_ID = re.compile(r"<[^<>\s]+>")
_SAFE_ID_PART = re.compile(r"[A-Za-z0-9_-]{1,64}")
_DOMAIN_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
#: Headers build_draft writes itself; extra_headers may not override them.
_OWN_HEADERS = frozenset({
    "from", "to", "cc", "bcc", "subject", "date", "message-id", "in-reply-to", "references", "x-followupd-id",
    "mime-version", "content-type", "content-transfer-encoding", "sender", "reply-to",
})
_BODY_FILENAME_SUFFIX = "#body"
_SUBJECT_FILENAME_SUFFIX = "#subject"


# --------------------------------------------------------------------------------------------------- library

#: The language of the top-level stage folders; another language's set lives in ``<lang>/<stage>/``.
DEFAULT_LANGUAGE = "en"
#: ``[templates] lang = "auto"``: each thread gets the set of its original message's language, if there is one.
AUTO_LANGUAGE = "auto"
_LANGUAGE_CODE = re.compile(r"[a-z]{2,3}")


def is_language_code(text: str) -> bool:
    """Two or three lower-case letters (an ISO 639 code such as "de"): a language folder or setting."""
    return bool(_LANGUAGE_CODE.fullmatch(text))


@dataclass(frozen=True)
class TemplateVariant:
    """One template file. ``key`` ("first/warm-question.txt", "de/first/kurz.txt") is the stable id recorded per
    thread; ``lang`` is the language set the file belongs to."""

    stage: str
    name: str
    key: str
    path: Path
    subject_source: str
    body_source: str
    body_first_line: int
    lang: str = DEFAULT_LANGUAGE


def variant_key(lang: str, stage: str, filename: str) -> str:
    """``first/x.txt`` for the default language, ``de/first/x.txt`` for another one."""
    return f"{stage}/{filename}" if lang == DEFAULT_LANGUAGE else f"{lang}/{stage}/{filename}"


@dataclass(frozen=True)
class TemplateFile:
    """A template file on disk before parsing: which variant it is, and whether it is the user's own."""

    key: str
    lang: str
    stage: str
    path: Path
    overlay: bool


@dataclass(frozen=True)
class TemplateScan:
    """Everything a scan of the template folders found; ``load`` refuses any error, ``templates check`` lists them."""

    variants: tuple[TemplateVariant, ...]   # the active, parsed variants of every language
    errors: tuple[TemplateError, ...]
    files: Mapping[str, TemplateFile]       # the active file of each key, parsed or not
    replaced: frozenset[str]                # keys where a file of the overlay shadows a base file
    disabled: tuple[TemplateFile, ...]      # base files left out by ``disable``
    unmatched_disable: tuple[str, ...]      # ``disable`` entries that match no base file


def scan_templates(directory: Path, *, overlay: Path | None = None, disable: Collection[str] = ()) -> TemplateScan:
    """Find and parse every template under ``directory`` and ``overlay``, collecting errors, not stopping.

    ``overlay`` (the user's ``[templates] dir``) shadows ``directory`` (the built-in library) file by file: its
    ``first/x.txt`` replaces the built-in ``first/x.txt``, its other files add variants, and the remaining
    built-in files stay. ``disable`` leaves base files out, by key or shell-style pattern (``"later/*"``;
    ``"*"`` keeps only the overlay's files); it never removes one of the overlay's own files, which the user can
    simply delete.
    """
    errors: list[TemplateError] = []
    base = _find_files(directory, overlay=False, errors=errors)
    own = _find_files(overlay, overlay=True, errors=errors) if overlay is not None else {}
    matched: set[str] = set()
    disabled: list[TemplateFile] = []
    active: dict[str, TemplateFile] = {}
    for key, found in base.items():
        hits = [pattern for pattern in disable if fnmatch.fnmatchcase(key, pattern)]
        matched.update(hits)
        if key in own:
            continue
        if hits:
            disabled.append(found)
        else:
            active[key] = found
    active.update(own)
    files = dict(sorted(active.items(), key=lambda item: _file_order(item[1])))
    variants: list[TemplateVariant] = []
    for found in files.values():
        try:
            variants.append(_load_variant(found))
        except TemplateError as exc:
            errors.append(exc)
    return TemplateScan(
        variants=tuple(variants), errors=tuple(errors), files=files, replaced=frozenset(base) & frozenset(own),
        disabled=tuple(disabled), unmatched_disable=tuple(p for p in dict.fromkeys(disable) if p not in matched),
    )


def _file_order(found: TemplateFile) -> tuple[bool, str, int, str]:
    return (found.lang != DEFAULT_LANGUAGE, found.lang, ALL_STAGES.index(found.stage), found.path.name)


@dataclass(frozen=True)
class _Catalog:
    """What every language view of one load shares."""

    sets: Mapping[str, Mapping[str, tuple[TemplateVariant, ...]]]
    setting: str
    overlay: Path | None
    scan: TemplateScan | None


class TemplateLibrary:
    """The variants of one language, by stage, parsed and syntax-checked once so a broken file fails at start-up.

    A library loaded from folders also holds the other languages' sets: :meth:`for_language` and
    :meth:`for_message` return the view a thread should use. The commitment templates (reminder and update,
    :data:`COMMITMENT_STAGES`) are kept apart from the follow-up stages: :meth:`stages` and
    :meth:`all_variants` never include them, so a follow-up can never be written from one.
    """

    def __init__(self, directory: Path, variants: Mapping[str, Sequence[TemplateVariant]], *,
                 lang: str = DEFAULT_LANGUAGE, catalog: _Catalog | None = None) -> None:
        self.directory = directory
        self.lang = lang
        self._by_stage = {stage: tuple(variants[stage]) for stage in STAGES if variants.get(stage)}
        self._commitment = {stage: tuple(variants[stage]) for stage in COMMITMENT_STAGES if variants.get(stage)}
        if not self._by_stage:
            raise TemplateError(
                f"{directory}: no templates found; expected <stage>/<name>.txt with stage one of "
                f"{', '.join(STAGES)}",
                path=str(directory),
            )
        self._catalog = catalog or _Catalog(sets={lang: {**self._by_stage, **self._commitment}}, setting=lang,
                                            overlay=None, scan=None)

    @classmethod
    def load(cls, directory: Path, *, overlay: Path | None = None, disable: Collection[str] = (),
             lang: str = DEFAULT_LANGUAGE) -> TemplateLibrary:
        """Read every template (see :func:`scan_templates`); raises TemplateError naming the file and line.

        ``lang`` is the ``[templates] lang`` setting: a language code, or ``"auto"`` (the default language's
        set until :meth:`for_message` picks another).
        """
        scan = scan_templates(directory, overlay=overlay, disable=disable)
        if scan.errors:
            raise scan.errors[0]
        return cls.from_scan(directory, scan, lang=lang, overlay=overlay)

    @classmethod
    def from_scan(cls, directory: Path, scan: TemplateScan, *, lang: str = DEFAULT_LANGUAGE,
                  overlay: Path | None = None) -> TemplateLibrary:
        """The library of a scan's variants (errors are the caller's business); TemplateError when the
        configured language has no templates."""
        grouped: dict[str, dict[str, list[TemplateVariant]]] = {}
        for variant in scan.variants:
            grouped.setdefault(variant.lang, {}).setdefault(variant.stage, []).append(variant)
        sets = {code: {stage: tuple(found) for stage, found in stages.items()} for code, stages in grouped.items()}
        wanted = DEFAULT_LANGUAGE if lang == AUTO_LANGUAGE else lang
        if sets and wanted not in sets:
            where = (overlay or directory) if wanted == DEFAULT_LANGUAGE else (overlay or directory) / wanted
            why = ' (the fallback for lang = "auto")' if lang == AUTO_LANGUAGE else ""
            raise TemplateError(
                f"{directory}: no templates for language {wanted!r}{why}; expected {where}/<stage>/<name>.txt; "
                f"languages found: {', '.join(sorted(sets))}",
                path=str(directory),
            )
        catalog = _Catalog(sets=sets, setting=lang, overlay=overlay, scan=scan)
        return cls(directory, sets.get(wanted, {}), lang=wanted, catalog=catalog)

    @property
    def setting(self) -> str:
        """The configured language: a code, or ``"auto"``."""
        return self._catalog.setting

    @property
    def overlay(self) -> Path | None:
        """The user's folder that shadows ``directory`` file by file, if any."""
        return self._catalog.overlay

    @property
    def scan(self) -> TemplateScan | None:
        """Where each file came from (None for a library built by hand)."""
        return self._catalog.scan

    def stages(self) -> tuple[str, ...]:
        """Stages that have at least one variant, in cadence order."""
        return tuple(self._by_stage)

    def variants(self, stage: str) -> tuple[TemplateVariant, ...]:
        """Variants of one stage, sorted by file name; empty for a stage the library lacks.

        A commitment stage of a language without its own commitment templates falls back to the default
        language's: a reminder in English beats no reminder."""
        if stage in COMMITMENT_STAGES:
            own = self._commitment.get(stage, ())
            return own or tuple(self._catalog.sets.get(DEFAULT_LANGUAGE, {}).get(stage, ()))
        return self._by_stage.get(stage, ())

    def all_variants(self) -> tuple[TemplateVariant, ...]:
        """Every follow-up variant of this library's language (not the commitment templates)."""
        return tuple(variant for stage in self._by_stage for variant in self._by_stage[stage])

    def commitment_variants(self) -> tuple[TemplateVariant, ...]:
        """This language's own reminder and update templates (without the fallback of :meth:`variants`)."""
        return tuple(variant for stage in self._commitment for variant in self._commitment[stage])

    def every_variant(self) -> tuple[TemplateVariant, ...]:
        """Every variant of every language loaded with this library, commitment templates included."""
        sets = self._catalog.sets
        return tuple(variant for code in self.languages() for stage in ALL_STAGES
                     for variant in sets[code].get(stage, ()))

    def languages(self) -> tuple[str, ...]:
        """Languages that have a set, the default language first."""
        return tuple(sorted(self._catalog.sets, key=lambda code: (code != DEFAULT_LANGUAGE, code)))

    def get(self, key: str) -> TemplateVariant | None:
        """The variant recorded for a touch (any language), so a restart can re-render exactly what was chosen."""
        for stages in self._catalog.sets.values():
            for found in stages.values():
                for variant in found:
                    if variant.key == key:
                        return variant
        return None

    def for_language(self, lang: str) -> TemplateLibrary:
        """The set of ``lang``; the configured language's set (English under "auto") when there is none."""
        if lang == self.lang:
            return self
        stages = self._catalog.sets.get(lang)
        if stages is None or not any(stages.get(stage) for stage in STAGES):  # no follow-ups: not a usable set
            fallback = DEFAULT_LANGUAGE if self.setting == AUTO_LANGUAGE else self.setting
            return self if fallback == self.lang or fallback not in self._catalog.sets else self.for_language(fallback)
        return TemplateLibrary(self.directory, stages, lang=lang, catalog=self._catalog)

    def for_message(self, subject: str, *, content_language: str | None = None) -> TemplateLibrary:
        """The set a thread should use: the configured language, or with "auto" the original message's
        language (:func:`detect_language` on its subject and Content-Language) when there is a set for it."""
        if self.setting != AUTO_LANGUAGE:
            return self.for_language(self.setting)
        detected = detect_language(subject, content_language=content_language)
        return self.for_language(detected or DEFAULT_LANGUAGE)


def builtin_templates_dir() -> Path:
    """The shipped template library: the source checkout's ``templates/``, else the installed package data.

    The checkout candidate must sit next to ``pyproject.toml``: installed, ``parents[2]`` is site-packages,
    where an unrelated distribution may have dropped its own top-level ``templates/``.
    """
    root = Path(__file__).resolve().parents[2]
    if (root / "templates").is_dir() and (root / "pyproject.toml").is_file():
        return root / "templates"
    installed = importlib.resources.files("followupd").joinpath("templates")
    if isinstance(installed, Path) and installed.is_dir():
        return installed
    raise TemplateError("the built-in templates are not installed (followupd/templates is missing)")


def _template_files(folder: Path) -> list[Path]:
    """``*.txt`` files of a stage folder, sorted; hidden files and editor leftovers are not templates."""
    return sorted(
        path for path in folder.glob("*.txt")
        if path.is_file() and not path.name.startswith((".", "#", "~"))
    )


def _find_files(directory: Path, *, overlay: bool, errors: list[TemplateError]) -> dict[str, TemplateFile]:
    """Every ``<stage>/<name>.txt``, ``commitment/<reminder|update>/<name>.txt`` and the same under ``<lang>/``;
    a template in the wrong place would be silently ignored, so each one is an error instead."""
    if not directory.is_dir():
        errors.append(TemplateError(f"{directory}: template directory not found", path=str(directory)))
        return {}
    found: dict[str, TemplateFile] = {}
    for path in sorted(directory.iterdir()):
        if path.is_file() and path.suffix == ".txt":
            errors.append(TemplateError(
                f"{path}: templates go in a stage folder ({', '.join(STAGES)}), e.g. first/{path.name}",
                path=str(path)))
        elif not path.is_dir() or path.name.startswith("."):
            continue
        elif path.name in STAGES:
            _add_stage(found, DEFAULT_LANGUAGE, path, overlay)
        elif path.name == COMMITMENT_FOLDER:
            _find_commitment(found, DEFAULT_LANGUAGE, path, overlay, errors)
        elif files := _template_files(path):
            language = f" (or for a language set, {path.name}/first/{files[0].name})" if is_language_code(
                path.name) else ""
            errors.append(TemplateError(
                f"{path}: unknown stage folder {path.name!r}; expected one of {', '.join(STAGES)}{language}",
                path=str(path)))
        elif not _has_stage_folders(path):
            continue
        elif path.name == DEFAULT_LANGUAGE:
            errors.append(TemplateError(
                f"{path}: the {DEFAULT_LANGUAGE!r} templates are the top-level stage folders; move "
                f"{path.name}/<stage>/ up one level", path=str(path)))
        elif is_language_code(path.name):
            _find_language(found, path, overlay, errors)
        else:
            errors.append(TemplateError(
                f"{path}: unknown language folder {path.name!r}; name it with a two-letter language code, "
                "e.g. de", path=str(path)))
    return found


def _has_stage_folders(path: Path) -> bool:
    return any((path / stage).is_dir() for stage in (*STAGES, COMMITMENT_FOLDER))


def _find_language(found: dict[str, TemplateFile], folder: Path, overlay: bool,
                   errors: list[TemplateError]) -> None:
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.suffix == ".txt":
            errors.append(TemplateError(
                f"{path}: templates go in a stage folder, e.g. {folder.name}/first/{path.name}", path=str(path)))
        elif path.is_dir() and path.name in STAGES:
            _add_stage(found, folder.name, path, overlay)
        elif path.is_dir() and path.name == COMMITMENT_FOLDER:
            _find_commitment(found, folder.name, path, overlay, errors)
        elif path.is_dir() and _template_files(path):
            errors.append(TemplateError(
                f"{path}: unknown stage folder {path.name!r}; expected one of {', '.join(STAGES)}",
                path=str(path)))


def _find_commitment(found: dict[str, TemplateFile], lang: str, folder: Path, overlay: bool,
                     errors: list[TemplateError]) -> None:
    """``commitment/reminder/`` and ``commitment/update/``; anything else with templates in it is misplaced."""
    names = [stage.rpartition("/")[2] for stage in COMMITMENT_STAGES]
    expected = " or ".join(f"{folder.name}/{name}/" for name in names)
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.suffix == ".txt":
            errors.append(TemplateError(
                f"{path}: commitment templates go in {expected}, e.g. {folder.name}/{names[0]}/{path.name}",
                path=str(path)))
        elif path.is_dir() and path.name in names:
            _add_stage(found, lang, path, overlay, stage=f"{COMMITMENT_FOLDER}/{path.name}")
        elif path.is_dir() and not path.name.startswith(".") and _template_files(path):
            errors.append(TemplateError(
                f"{path}: unknown commitment folder {path.name!r}; expected {expected}", path=str(path)))


def _add_stage(found: dict[str, TemplateFile], lang: str, folder: Path, overlay: bool, *,
               stage: str | None = None) -> None:
    stage = stage or folder.name
    for path in _template_files(folder):
        key = variant_key(lang, stage, path.name)
        found[key] = TemplateFile(key=key, lang=lang, stage=stage, path=path, overlay=overlay)


def read_template(path: Path, *, stage: str, lang: str = DEFAULT_LANGUAGE, key: str | None = None) -> TemplateVariant:
    """Parse one template file; TemplateError (file and line) when it is malformed."""
    key = key or variant_key(lang, stage, path.name)
    return _load_variant(TemplateFile(key=key, lang=lang, stage=stage, path=path, overlay=False))


def _load_variant(found: TemplateFile) -> TemplateVariant:
    """Split one file into subject and body and check both compile and use only known variables."""
    path = found.path
    text = _read_text(path)
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    match = _SUBJECT_LINE.fullmatch(lines[0])
    if match is None:
        raise _error(path, 1, "the first line must be 'Subject: ...'")
    subject_source = match.group("value").strip()
    if not subject_source:
        raise _error(path, 1, "the Subject: line is empty")
    if len(lines) < 2 or lines[1].strip():
        raise _error(path, 2, "expected a blank line after the Subject: line")
    body_source = "\n".join(lines[2:])
    if not body_source.strip():
        raise _error(path, 3, "the body is empty")
    variant = TemplateVariant(
        stage=found.stage, name=path.stem, key=found.key, path=path,
        subject_source=subject_source, body_source=body_source, body_first_line=3, lang=found.lang,
    )
    _check_source(variant, variant.subject_source, 1, _SUBJECT_FILENAME_SUFFIX)
    _check_source(variant, variant.body_source, variant.body_first_line, _BODY_FILENAME_SUFFIX)
    return variant


def _read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise TemplateError(f"{path}: cannot read: {exc.strerror}", path=str(path)) from exc
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise _error(path, line, "not valid UTF-8") from exc


def _check_source(variant: TemplateVariant, source: str, first_line: int, suffix: str) -> None:
    """Syntax errors and unknown names are found here, at load time, rather than on the due day."""
    env = _environment()
    try:
        tree = env.parse(source)
        _compile(source, f"{variant.key}{suffix}")  # the compiler, not the parser, refuses unknown filters
    except jinja2.TemplateSyntaxError as exc:
        raise _error(variant.path, first_line + (exc.lineno or 1) - 1, exc.message or "syntax error") from exc
    unknown = jinja_meta.find_undeclared_variables(tree) - set(VARIABLES) - set(env.globals)
    if unknown:
        name = sorted(unknown)[0]
        relative = _first_use_line(tree, name)
        line = first_line + relative - 1 if relative else None
        raise _error(variant.path, line, f"unknown variable {name!r}{_nearest_name(name, env)}; "
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


def _error(path: Path, line: int | None, problem: str) -> TemplateError:
    where = f"{path} line {line}" if line is not None else str(path)
    return TemplateError(f"{where}: {problem}", path=str(path), line=line)


# ------------------------------------------------------------------------------------------ reload and language


def template_fingerprint(*directories: Path | None) -> tuple[tuple[str, int, int], ...]:
    """Path, mtime and size of every ``.txt`` up to ``<lang>/commitment/<set>/``: a few stat calls, no reads, so the
    daemon can afford it every cycle and notice an edited, added or deleted template."""
    seen: list[tuple[str, int, int]] = []
    for directory in directories:
        if directory is not None:
            _stat_walk(str(directory), 4, seen)  # <lang>/commitment/<set>/<name>.txt is the deepest
    return tuple(seen)


def _stat_walk(folder: str, depth: int, seen: list[tuple[str, int, int]]) -> None:
    try:
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except OSError:
        seen.append((folder, -1, -1))  # a folder that vanished or became unreadable is a change too
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        try:
            if entry.is_dir() and depth > 1:
                _stat_walk(entry.path, depth - 1, seen)
            elif entry.name.endswith(".txt") and entry.is_file():
                info = entry.stat()
                seen.append((entry.path, info.st_mtime_ns, info.st_size))
        except OSError:
            seen.append((entry.path, -1, -1))


class TemplateSource:
    """The active templates, reloaded when a file changes, so an edit takes effect without a restart.

    Each :meth:`library` call costs a stat walk (:func:`template_fingerprint`). The first load raises on a
    broken template; later, a broken edit is logged once and the previous library stays in use, so one typo
    never stops the daemon from tracking replies. ``error`` says why the last reload was refused.
    """

    def __init__(self, directory: Path, *, overlay: Path | None = None, disable: Collection[str] = (),
                 lang: str = DEFAULT_LANGUAGE) -> None:
        self.directory = directory
        self.overlay = overlay
        self.disable = tuple(disable)
        self.lang = lang
        self.error: TemplateError | None = None
        self._library: TemplateLibrary | None = None
        self._stamp: tuple[tuple[str, int, int], ...] | None = None

    def library(self) -> TemplateLibrary:
        stamp = template_fingerprint(self.directory, self.overlay)
        if self._library is not None and stamp == self._stamp:
            return self._library
        try:
            library = TemplateLibrary.load(self.directory, overlay=self.overlay, disable=self.disable,
                                           lang=self.lang)
        except TemplateError as exc:
            if self._library is None:
                raise
            self._stamp, self.error = stamp, exc
            logger.error("templates changed, but %s; still using the previous templates", exc)
            return self._library
        if self._library is not None:
            logger.info("templates changed; reloaded them")
        self._library, self._stamp, self.error = library, stamp, None
        return library


#: Short words that are frequent in subjects and say which language they are in (shared words left out).
_LANGUAGE_WORDS: Mapping[str, frozenset[str]] = {
    "en": frozenset({
        "the", "and", "for", "with", "your", "you", "our", "about", "from", "this", "that", "to", "of", "on",
        "is", "are", "my", "we", "meeting", "quote", "invoice", "question", "request", "proposal", "follow",
    }),
    "de": frozenset({
        "und", "der", "die", "das", "den", "dem", "des", "für", "mit", "von", "vom", "zum", "zur", "ist",
        "nicht", "ein", "eine", "einen", "ihr", "ihre", "unser", "unsere", "bitte", "auf", "im", "über",
        "wegen", "bei", "nach", "aus", "angebot", "anfrage", "rechnung", "termin", "besprechung", "vertrag",
        "frage", "unterlagen",
    }),
    "fr": frozenset({
        "le", "les", "du", "pour", "avec", "une", "et", "sur", "votre", "vos", "notre", "nos", "est", "au",
        "aux", "devis", "facture", "réunion", "demande", "rendez-vous", "proposition", "suite", "des", "dans",
        "chez", "contrat", "offre", "dossier", "commande", "candidature", "merci", "projet", "entretien",
        "subvention", "partenariat", "retour", "échange", "rencontre", "inscription", "livraison", "paiement",
    }),
    "es": frozenset({
        "el", "los", "las", "del", "por", "para", "con", "una", "y", "su", "sus", "nuestro", "nuestra", "al",
        "sobre", "presupuesto", "factura", "reunión", "cita", "solicitud", "propuesta", "pregunta", "contrato",
        "oferta", "pedido", "consulta", "información", "gracias", "proyecto", "prácticas", "mantenimiento",
        "colaboración", "seguimiento", "entrevista", "envío", "pago", "curso", "nuestros", "nuestras",
    }),
}
#: Reply and forward prefixes that only one language's mail clients write.
_LANGUAGE_PREFIXES: Mapping[str, str] = {"aw": "de", "wg": "de", "antw": "de", "tr": "fr", "rv": "es"}
_LANGUAGE_LETTERS: Mapping[str, str] = {"ß": "de", "ä": "de", "ö": "de", "ü": "de", "ç": "fr", "œ": "fr",
                                        "è": "fr", "ê": "fr", "à": "fr", "â": "fr", "î": "fr", "ô": "fr",
                                        "û": "fr", "ï": "fr", "ñ": "es", "¿": "es", "¡": "es", "á": "es",
                                        "í": "es", "ó": "es", "ú": "es"}
_SUBJECT_WORD = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")
_PREFIX_WORD = re.compile(r"^\s*([^\W\d_]+)\s*[:\uff1a]")


def detect_language(subject: str, *, content_language: str | None = None) -> str | None:
    """The language of a message from what draft time knows: its Content-Language header, else its subject.

    Deliberately simple and dependency-free: a vote of language-specific short words ("für", "pour", "the"),
    reply prefixes only one language uses ("AW:", "WG:", "TR:", "RV:") and letters (ß, ñ, ç). None when the
    subject says nothing clear (a tie, or no signal at all), so the caller falls back to its default.
    """
    if content_language:
        primary = content_language.split(",")[0].strip().split("-")[0].split("_")[0].lower()
        if is_language_code(primary):
            return primary
    votes: dict[str, int] = {}
    rest = subject
    while (match := _PREFIX_WORD.match(rest)) and _REPLY_PREFIX.match(rest):
        lang = _LANGUAGE_PREFIXES.get(match.group(1).lower())
        if lang:
            votes[lang] = votes.get(lang, 0) + 2
        rest = _REPLY_PREFIX.sub("", rest, count=1)
    for word in _SUBJECT_WORD.findall(rest.lower()):
        for lang, words in _LANGUAGE_WORDS.items():
            if word in words:
                votes[lang] = votes.get(lang, 0) + 2
        for letter, lang in _LANGUAGE_LETTERS.items():
            if letter in word:
                votes[lang] = votes.get(lang, 0) + 1
                break
    if not votes:
        return None
    ranked = sorted(votes.items(), key=lambda item: -item[1])
    if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
        return None
    return ranked[0][0]


# ------------------------------------------------------------------------------------------- stage and choice


def stage_for_touch(touch_number: int, total_touches: int, available: Sequence[str]) -> str:
    """Which stage a touch uses: last -> final, 1 -> first, 2 -> middle, others -> later (1-based).

    The last touch wins over the others, so a one-touch cadence uses "final". When the ideal stage is missing,
    the nearest available one is used (ties go to the gentler, earlier stage).
    """
    if total_touches < 1 or not 1 <= touch_number <= total_touches:
        raise ValueError(f"touch {touch_number} of {total_touches} is not a valid touch")
    return _stage_preference(_ideal_stage(touch_number, total_touches), available)[0]


def _ideal_stage(touch_number: int, total_touches: int) -> str:
    if touch_number == total_touches:
        return "final"
    if touch_number == 1:
        return "first"
    if touch_number == 2:
        return "middle"
    return "later"


def _stage_preference(ideal: str, available: Iterable[str]) -> list[str]:
    """Available stages, best substitute first: nearest, earlier on ties, "final" last unless it is ideal."""
    if ideal not in STAGES:
        raise ValueError(f"unknown stage {ideal!r}; expected one of {', '.join(STAGES)}")
    offered = set(available)
    known = [stage for stage in STAGES if stage in offered]
    if not known:
        raise ValueError("no template stage is available")
    target = STAGES.index(ideal)

    def rank(stage: str) -> tuple[bool, int, int]:
        index = STAGES.index(stage)
        return (stage == "final" and ideal != "final", abs(index - target), index)

    return sorted(known, key=rank)


def choose_variant(
    library: TemplateLibrary,
    stage: str,
    *,
    used_in_thread: Collection[str],
    recently_used_with_person: Collection[str] = (),
    usage: Mapping[str, datetime] | None = None,
    seed: str,
) -> TemplateVariant | None:
    """Pick a variant never used in this thread, preferring ones this person has not seen lately.

    Among the remaining candidates: with ``usage`` (variant key -> when it was last used, in any thread) the
    least recently used one, never-used first, so the whole library takes turns; ties (and every choice
    without ``usage``) go to rendezvous hashing with sha256 of ``seed``. Deterministic given its inputs:
    re-running after a crash picks the same variant, and adding a template file does not reshuffle the choice
    for other threads. Falls back through the other stages in :func:`stage_for_touch` order, except that
    ``later`` and ``final`` never borrow ``first`` wording (it reads stale after touch 2); None when no
    variant is left. An unknown ``stage`` is a ValueError. A commitment stage
    (:data:`COMMITMENT_STAGES`) never falls back to another stage, and no follow-up stage ever falls back to it.
    """
    last_used = usage or {}

    def rank(variant: TemplateVariant) -> tuple[bool, float, int]:
        when = last_used.get(variant.key)
        return (when is not None, when.timestamp() if when is not None else 0.0,
                -int.from_bytes(_weight(seed, variant.key), "big"))

    stages = [stage] if stage in COMMITMENT_STAGES else _stage_preference(stage, library.stages())
    if stage in _NO_FIRST_WORDING:
        stages = [found for found in stages if found != "first"]
    for candidate_stage in stages:
        fresh = [v for v in library.variants(candidate_stage) if v.key not in used_in_thread]
        if not fresh:
            continue
        unseen = [v for v in fresh if v.key not in recently_used_with_person]
        return min(unseen or fresh, key=rank)
    return None


#: Stages whose touches come after the second: first-touch wording ("did my message reach you?") reads stale
#: there, so they never borrow from ``first`` when their own variants (and ``middle``) are used up.
_NO_FIRST_WORDING = frozenset({"later", "final"})


def _weight(seed: str, key: str) -> bytes:
    return hashlib.sha256(f"{seed}\x00{key}".encode()).digest()


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
    note = _clean_text(ctx.note).strip() if ctx.note else None
    return {
        "recipients": people,
        "cc": [_person(address) for address in ctx.cc],
        "first_names": (dates.everyone(lang) if len(named_first) > MAX_GREETING_NAMES
                        else dates.join_names(named_first, lang)),
        "first_name": people[0]["first_name"] if people else "",
        "names": dates.join_names([p["name"] or p["email"] for p in people], lang),
        "subject": original,  # what authors expect the name to mean: the subject as the user wrote it
        "original_subject": original,
        "topic": _strip_reply_prefixes(original),
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
        "signature": _clean_text(ctx.signature).strip() or sanitize_header_value(ctx.user_name),
        "note": note or None,
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
        raise _error(variant.path, 1, "the subject rendered empty")
    body_text = _render_part(variant, variant.body_source, variant.body_first_line, _BODY_FILENAME_SUFFIX,
                             variables)
    body = _tidy_body(body_text)
    if not body.strip():
        raise _error(variant.path, variant.body_first_line, "the body rendered empty")
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


@lru_cache(maxsize=256)
def _compile(source: str, filename: str) -> jinja2.Template:
    """Compile with our own filename so the rewritten traceback tells us which part and line failed."""
    env = _environment()
    code = env.compile(source, name=filename, filename=filename)
    return env.template_class.from_code(env, code, env.make_globals(None))


def _render_part(
    variant: TemplateVariant, source: str, first_line: int, suffix: str, variables: Mapping[str, object]
) -> str:
    filename = f"{variant.key}{suffix}"
    try:
        return _compile(source, filename).render(variables)
    except jinja2.TemplateSyntaxError as exc:
        raise _error(variant.path, first_line + (exc.lineno or 1) - 1, exc.message or "syntax error") from exc
    except Exception as exc:  # whatever a template does wrong (undefined, 1/0, ...) is a template error
        relative = _template_line(exc.__traceback__, filename)
        line = first_line + relative - 1 if relative is not None else None
        message = exc.message if isinstance(exc, jinja2.TemplateError) and exc.message else str(exc)
        raise _error(variant.path, line, message or type(exc).__name__) from exc


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
    lines = [line.rstrip() for line in _clean_text(text).split("\n")]
    tidy: list[str] = []
    for line in lines:
        if line or (tidy and tidy[-1]):
            tidy.append(line)
    while tidy and not tidy[-1]:
        tidy.pop()
    return "\n".join(tidy) + "\n"


def _clean_text(text: str) -> str:
    """Body text: newlines normalised to LF, tabs kept, other control characters dropped."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _BODY_CONTROL_CHARS.sub("", text)


# --------------------------------------------------------------------------------------------- header values


def reply_subject(original: str) -> str:
    """"Re: " + the original without stacked Re:/Fwd:/AW:/SV:/RE[2]: prefixes, the original's case kept."""
    base = _strip_reply_prefixes(sanitize_header_value(original))
    return f"Re: {base}" if base else "Re:"


def _strip_reply_prefixes(subject: str) -> str:
    while True:
        stripped = _REPLY_PREFIX.sub("", subject, count=1)
        if stripped == subject:
            return subject.strip()
        subject = stripped


def sanitize_header_value(value: str) -> str:
    """CR, LF and every other control or line-separator character become a space; whitespace collapses.

    A decoded hostile encoded-word can carry CR/LF (shared FACTS.md): anything reused in a header passes here.
    """
    return " ".join(_CONTROL_CHARS.sub(" ", value).split())


#: Exactly the characters :func:`_is_control` accepts (Unicode categories Cc, Zl and Zp: a test holds the line),
#: as one pattern: checking them a character at a time made cleaning most of the cost of a render, and the
#: start-up check renders every template for every sample.
_CONTROL_CHARS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
#: The same without tab and newline, which a body keeps.
_BODY_CONTROL_CHARS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")


def _is_control(ch: str) -> bool:
    return unicodedata.category(ch) in ("Cc", "Zl", "Zp")


def validate_header_name(name: str) -> str:
    """RFC 5322 §2.2 field name: printable US-ASCII except colon. Python 3.11 predates CVE-2024-6923's fix."""
    if not name or any(not 33 <= ord(ch) <= 126 or ch == ":" for ch in name):
        raise ValueError(f"invalid header name {name!r}")
    return name


def draft_message_id(thread_id: str, touch_number: int, domain: str) -> str:
    """``<uuid@domain>``, the form Thunderbird and many other clients write, on the user's own domain.

    Deterministic (a UUID built from sha256 of the thread and touch, shaped as a version 4 UUID): the same
    touch always gets the same id, so a restart that re-appends a draft finds the first copy, and the Sent
    copy of the draft is recognised by this id alone. Nothing in it names followupd or follows a pattern a
    recipient could tell from a mail client's random id (issue 18): the id never leaves the user's mailbox
    with a trace of the tool. Older versions wrote ``<followupd.{thread}.{touch}@{domain}>``; those ids stay
    in the database and are still recognised, because recognition is by the recorded id, not by its shape.
    """
    if touch_number < 1:
        raise ValueError(f"touch number must be >= 1, got {touch_number}")
    digest = hashlib.sha256(f"draft\x00{thread_id}\x00{touch_number}".encode()).digest()
    token = uuid.UUID(bytes=digest[:16], version=4)
    return f"<{token}@{_ascii_domain(domain)}>"


def reminder_message_id(thread_id: str, number: int, domain: str) -> str:
    """``<followupd.{thread}.r{n}@{domain}>`` for the n-th reminder about a promise: deterministic like a draft's.

    A reminder is filed in the user's own INBOX and never reaches anyone else, so it keeps a readable marker
    (issue 18 allows it); it can never equal (nor, for IMAP's substring SEARCH, be contained in) a draft's id.
    A thread id outside ``[A-Za-z0-9_-]`` is replaced by a hash of it, which keeps the id valid and distinct.
    """
    if number < 1:
        raise ValueError(f"reminder number must be >= 1, got {number}")
    thread = str(thread_id)
    if not _SAFE_ID_PART.fullmatch(thread):
        thread = "h" + hashlib.sha256(thread.encode()).hexdigest()[:24]
    return f"<followupd.{thread}.r{number}@{_ascii_domain(domain)}>"


def _ascii_domain(domain: str) -> str:
    """A dot-atom domain in ASCII (IDNA for international names), or ValueError."""
    cleaned = domain.strip().rstrip(".").lower()
    try:
        ascii_domain = cleaned.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise ValueError(f"invalid domain {domain!r}") from exc
    labels = ascii_domain.split(".")
    if not ascii_domain or not all(_DOMAIN_LABEL.fullmatch(label) for label in labels):
        raise ValueError(f"invalid domain {domain!r}")
    return ascii_domain


# ---------------------------------------------------------------------------------------------------- drafts


class _IdListHeader(str):
    """A header of msg-ids that folds only between ids.

    The stdlib folder RFC 2047-encodes a word that does not fit in 78 columns, and In-Reply-To / References
    have no structured parser in 3.11, so a long id came out as ``=?utf-8?q?=3C...?=`` and broke threading.
    EmailPolicy accepts any value with ``name`` and ``fold()`` as a ready-made header.
    """

    name: str
    ids: tuple[str, ...]

    def __new__(cls, name: str, ids: Sequence[str]) -> _IdListHeader:
        header = super().__new__(cls, " ".join(ids))
        header.name = validate_header_name(name)
        header.ids = tuple(ids)
        return header

    def fold(self, *, policy: Policy) -> str:
        width = policy.max_line_length or 998
        lines = [f"{self.name}:"]
        for mid in self.ids:
            if len(lines[-1]) + 1 + len(mid) > width and lines[-1] != f"{self.name}:":
                lines.append("")
            lines[-1] += f" {mid}"
        return policy.linesep.join(lines) + policy.linesep


def build_draft(
    *,
    rendered: Rendered,
    from_: Address,
    to: Sequence[Address],
    cc: Sequence[Address],
    in_reply_to: str,
    references: Sequence[str],
    message_id: str,
    date: datetime,
    exclude: Collection[str] = (),
    extra_headers: Sequence[tuple[str, str]] = (),
) -> bytes:
    """The follow-up as RFC 5322 bytes (CRLF, folded) for IMAP APPEND to Drafts.

    Nothing in it names followupd (issue 18): the user sends this draft to people, and a note that says a tool
    wrote it undoes the humble tone. followupd finds it again by its deterministic ``message_id``
    (:func:`draft_message_id`), recorded before the APPEND; there is no marker header, no User-Agent, and a
    single text/plain part, so no MIME boundary either.

    ``from_`` and every address in ``exclude`` (the tracking address, the user's aliases) are removed from
    To/Cc even if the caller forgot to; duplicates are dropped and an address in To is not repeated in Cc.
    Every value is sanitised and every header name validated, since this Python does not validate names;
    ``extra_headers`` (e.g. a configured X-Mailer) may add headers but not replace the ones set here.
    Unusable input (no recipients left, a bad id or address, a naive date) is a ValueError: a caller bug.
    """
    if date.tzinfo is None or date.utcoffset() is None:
        raise ValueError("the draft Date must be timezone-aware")
    skip = {email.strip().lower() for email in (*exclude, from_.email)}
    to_list = _recipients(to, skip)
    cc_list = _recipients(cc, skip | {a.addr_spec.lower() for a in to_list})
    if not to_list and not cc_list:
        raise ValueError("no recipients left for the draft after excluding the user and tracking addresses")
    parent = _normalise_msg_id(in_reply_to, "In-Reply-To")
    msg = EmailMessage(policy=email_policy.SMTP)
    _set(msg, "From", _email_address(from_))
    if to_list:
        _set(msg, "To", to_list)
    if cc_list:
        _set(msg, "Cc", cc_list)
    _set(msg, "Subject", sanitize_header_value(rendered.subject))
    _set(msg, "Date", date)
    _set(msg, "Message-ID", _IdListHeader("Message-ID", [_normalise_msg_id(message_id, "Message-ID")]))
    _set(msg, "In-Reply-To", _IdListHeader("In-Reply-To", [parent]))
    _set(msg, "References", _IdListHeader("References", reference_chain(references, parent)))
    for name, value in extra_headers:
        if validate_header_name(name).lower() in _OWN_HEADERS:
            raise ValueError(f"extra header {name!r} would override one followupd sets itself")
        _set(msg, name, sanitize_header_value(value))
    _set(msg, "MIME-Version", "1.0")
    body = _clean_text(rendered.body)
    msg.set_content(body, subtype="plain", charset="utf-8", cte=_transfer_encoding(body))
    return msg.as_bytes(policy=email_policy.SMTP)


def build_reminder(
    *,
    rendered: Rendered,
    from_: Address,
    to: Address,
    message_id: str,
    followupd_id: str,
    date: datetime,
) -> bytes:
    """A note from followupd to the user (a promise is due), as RFC 5322 bytes for IMAP APPEND to INBOX.

    Not a reply to anything: threading it into the conversation would show it among the messages the
    recipients see in some clients, and "reply" on it would go to the user. ``Auto-Submitted: auto-generated``
    (RFC 3834) says what it is, so no autoresponder answers it and followupd never takes it for mail.
    """
    if date.tzinfo is None or date.utcoffset() is None:
        raise ValueError("the reminder Date must be timezone-aware")
    msg = EmailMessage(policy=email_policy.SMTP)
    _set(msg, "From", _email_address(from_))
    _set(msg, "To", _email_address(to))
    _set(msg, "Subject", sanitize_header_value(rendered.subject))
    _set(msg, "Date", date)
    _set(msg, "Message-ID", _IdListHeader("Message-ID", [_normalise_msg_id(message_id, "Message-ID")]))
    _set(msg, "X-Followupd-Id", _required(followupd_id, "X-Followupd-Id"))
    _set(msg, "Auto-Submitted", "auto-generated")
    _set(msg, "MIME-Version", "1.0")
    body = _clean_text(rendered.body)
    msg.set_content(body, subtype="plain", charset="utf-8", cte=_transfer_encoding(body))
    return msg.as_bytes(policy=email_policy.SMTP)


def _set(msg: EmailMessage, name: str, value: object) -> None:
    """Every header goes through here, so no name escapes validation."""
    msg[validate_header_name(name)] = value


def reference_chain(references: Sequence[str], in_reply_to: str) -> list[str]:
    """Thread ids plus the parent last, deduplicated; when long, keep the root and the most recent ones.

    Unusable ids (no angle brackets, whitespace, no @) are dropped: they come from other people's headers.
    """
    parent = _normalise_msg_id(in_reply_to, "In-Reply-To")
    chain = list(dict.fromkeys(mid for mid in (r.strip() for r in references)
                               if _FOREIGN_MSG_ID.fullmatch(mid) and mid.isascii()))
    chain = [mid for mid in chain if mid != parent] + [parent]
    if len(chain) > MAX_REFERENCES:
        chain = [chain[0], *chain[-(MAX_REFERENCES - 1):]]
    return chain


def _normalise_msg_id(value: str, what: str) -> str:
    mid = value.strip()
    if mid and not mid.startswith("<"):
        mid = f"<{mid}>"
    pattern = _MSG_ID if what == "Message-ID" else _FOREIGN_MSG_ID
    if not pattern.fullmatch(mid) or not mid.isascii():
        raise ValueError(f"invalid {what} {value!r}")
    return mid


def _required(value: str, what: str) -> str:
    cleaned = sanitize_header_value(value)
    if not cleaned:
        raise ValueError(f"{what} must not be empty")
    return cleaned


def _recipients(addresses: Sequence[Address], skip: set[str]) -> list[EmailAddress]:
    result: list[EmailAddress] = []
    for address in addresses:
        converted = _email_address(address)
        key = converted.addr_spec.lower()
        if key not in skip and address.email.strip().lower() not in skip:
            skip.add(key)
            result.append(converted)
    return result


def _email_address(address: Address) -> EmailAddress:
    """followupd Address -> stdlib Address: name sanitised, domain in IDNA, ASCII local part required."""
    email = sanitize_header_value(address.email)
    local, at, domain = email.rpartition("@")
    if not at or not local or not local.isascii():
        raise ValueError(f"unusable address {address.email!r} (needs an ASCII local part and a domain)")
    return EmailAddress(display_name=sanitize_header_value(address.name), username=local,
                        domain=_ascii_domain(domain))


def _transfer_encoding(body: str) -> str:
    """7bit when it already is, else quoted-printable: it survives any IMAP server and stays legible."""
    if body.isascii() and all(len(line) <= 78 for line in body.split("\n")):
        return "7bit"
    return "quoted-printable"

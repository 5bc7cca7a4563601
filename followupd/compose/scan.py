"""Finding and parsing the template files: the built-in library, the user's folder over it, language sets.

The user's folder shadows the built-in one file by file (:func:`scan_templates`). Choices made here (and why):

* Shadowing is per file, not per folder: a user who rewrites one note keeps getting the rest of the library
  (and its new variants after an upgrade); ``disable`` is the explicit way to drop a built-in note, rather than
  a magic empty file that looks like a mistake.
* A template in the wrong place is an error, not silently ignored; every error names its file (and line), and
  a scan collects them all so ``templates check`` can list every one.
* Unknown variable names are refused when a file loads (:func:`~followupd.compose.render.check_source`), so a
  typo surfaces at start-up rather than on the day a follow-up is due.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

from followupd.compose.checked import remembered
from followupd.compose.language import DEFAULT_LANGUAGE, is_language_code
from followupd.compose.render import check_source
from followupd.compose.variant import (
    ALL_STAGES,
    SET_FOLDERS,
    STAGES,
    TemplateVariant,
    template_error,
    variant_key,
)
from followupd.errors import TemplateError
from followupd.mail.patterns import lazy_pattern

_SUBJECT_LINE = lazy_pattern(r"subject:(?P<value>.*)", re.IGNORECASE)


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


def _template_files(folder: Path) -> list[Path]:
    """``*.txt`` files of a stage folder, sorted; hidden files and editor leftovers are not templates."""
    return sorted(
        path for path in folder.glob("*.txt")
        if path.is_file() and not path.name.startswith((".", "#", "~"))
    )


def _find_files(directory: Path, *, overlay: bool, errors: list[TemplateError]) -> dict[str, TemplateFile]:
    """Every ``<stage>/<name>.txt``, ``commitment/<reminder|update>/<name>.txt``,
    ``actions/<checkin|later|final|rollup>/<name>.txt`` and the same under ``<lang>/``;
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
        elif path.name in SET_FOLDERS:
            _find_set(found, DEFAULT_LANGUAGE, path, overlay, errors)
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
    return any((path / stage).is_dir() for stage in (*STAGES, *SET_FOLDERS))


def _find_language(found: dict[str, TemplateFile], folder: Path, overlay: bool,
                   errors: list[TemplateError]) -> None:
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.suffix == ".txt":
            errors.append(TemplateError(
                f"{path}: templates go in a stage folder, e.g. {folder.name}/first/{path.name}", path=str(path)))
        elif path.is_dir() and path.name in STAGES:
            _add_stage(found, folder.name, path, overlay)
        elif path.is_dir() and path.name in SET_FOLDERS:
            _find_set(found, folder.name, path, overlay, errors)
        elif path.is_dir() and _template_files(path):
            errors.append(TemplateError(
                f"{path}: unknown stage folder {path.name!r}; expected one of {', '.join(STAGES)}",
                path=str(path)))


def _find_set(found: dict[str, TemplateFile], lang: str, folder: Path, overlay: bool,
              errors: list[TemplateError]) -> None:
    """The stages of a set folder (``commitment/reminder/`` and ``commitment/update/``; ``actions/checkin/``,
    ``actions/later/``, ``actions/final/``, ``actions/rollup/``); anything else with templates in it is
    misplaced."""
    names = [stage.rpartition("/")[2] for stage in SET_FOLDERS[folder.name]]
    expected = " or ".join(f"{folder.name}/{name}/" for name in names)
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.suffix == ".txt":
            errors.append(TemplateError(
                f"{path}: {folder.name} templates go in {expected}, e.g. {folder.name}/{names[0]}/{path.name}",
                path=str(path)))
        elif path.is_dir() and path.name in names:
            _add_stage(found, lang, path, overlay, stage=f"{folder.name}/{path.name}")
        elif path.is_dir() and not path.name.startswith(".") and _template_files(path):
            errors.append(TemplateError(
                f"{path}: unknown {folder.name} folder {path.name!r}; expected {expected}", path=str(path)))


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
        raise template_error(path, 1, "the first line must be 'Subject: ...'")
    subject_source = match.group("value").strip()
    if not subject_source:
        raise template_error(path, 1, "the Subject: line is empty")
    if len(lines) < 2 or lines[1].strip():
        raise template_error(path, 2, "expected a blank line after the Subject: line")
    body_source = "\n".join(lines[2:])
    if not body_source.strip():
        raise template_error(path, 3, "the body is empty")
    variant = TemplateVariant(
        stage=found.stage, name=path.stem, key=found.key, path=path,
        subject_source=subject_source, body_source=body_source, body_first_line=3, lang=found.lang,
    )
    # Checked once per text, not once per process (compose.checked); the compiling is then left to the first
    # render of the file, so a command that drafts one note compiles one, not the whole library.
    remembered("load", (subject_source, body_source), lambda: check_source(variant),
               dump=lambda _: None, load=lambda _: None)
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
        raise template_error(path, line, "not valid UTF-8") from exc

"""The loaded template library: the variants of each language by stage, and its reload when a file changes.

A library needs at least one variant in some follow-up stage; which stage a touch uses, and the fallback when
one is missing, is :mod:`followupd.compose.choice`'s business. The commitment and action-item templates are kept
apart from the follow-up stages so a follow-up can never be written from one.
"""

from __future__ import annotations

import importlib.resources
import logging
import os
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from followupd.compose.language import AUTO_LANGUAGE, DEFAULT_LANGUAGE, detect_language
from followupd.compose.scan import TemplateScan, scan_templates
from followupd.compose.variant import ACTIONS_STAGES, ALL_STAGES, COMMITMENT_STAGES, SET_STAGES, STAGES, TemplateVariant
from followupd.errors import TemplateError

logger = logging.getLogger(__name__)


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
    :data:`COMMITMENT_STAGES`) and the action-item templates (check-ins and roll-up, :data:`ACTIONS_STAGES`)
    are kept apart from the follow-up stages: :meth:`stages` and :meth:`all_variants` never include them, so a
    follow-up can never be written from one.
    """

    def __init__(self, directory: Path, variants: Mapping[str, Sequence[TemplateVariant]], *,
                 lang: str = DEFAULT_LANGUAGE, catalog: _Catalog | None = None) -> None:
        self.directory = directory
        self.lang = lang
        self._by_stage = {stage: tuple(variants[stage]) for stage in STAGES if variants.get(stage)}
        self._sets = {stage: tuple(variants[stage]) for stage in SET_STAGES if variants.get(stage)}
        if not self._by_stage:
            raise TemplateError(
                f"{directory}: no templates found; expected <stage>/<name>.txt with stage one of "
                f"{', '.join(STAGES)}",
                path=str(directory),
            )
        self._catalog = catalog or _Catalog(sets={lang: {**self._by_stage, **self._sets}}, setting=lang,
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

        A commitment or action-item stage of a language without its own templates for it falls back to the
        default language's: a reminder (or a check-in) in English beats none."""
        if stage in SET_STAGES:
            own = self._sets.get(stage, ())
            return own or tuple(self._catalog.sets.get(DEFAULT_LANGUAGE, {}).get(stage, ()))
        return self._by_stage.get(stage, ())

    def all_variants(self) -> tuple[TemplateVariant, ...]:
        """Every follow-up variant of this library's language (not the commitment templates)."""
        return tuple(variant for stage in self._by_stage for variant in self._by_stage[stage])

    def commitment_variants(self) -> tuple[TemplateVariant, ...]:
        """This language's own reminder and update templates (without the fallback of :meth:`variants`)."""
        return tuple(variant for stage in COMMITMENT_STAGES for variant in self._sets.get(stage, ()))

    def actions_variants(self) -> tuple[TemplateVariant, ...]:
        """This language's own check-in and roll-up templates (without the fallback of :meth:`variants`)."""
        return tuple(variant for stage in ACTIONS_STAGES for variant in self._sets.get(stage, ()))

    def every_variant(self) -> tuple[TemplateVariant, ...]:
        """Every variant of every language loaded with this library, commitment and action templates included."""
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


# ---------------------------------------------------------------------------------------------------- reload


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

"""``followupd templates check [PATH] [--strict] [--json]`` and ``followupd templates list [--json]``.

Both work without a config file (then on the built-in templates with the default tone rules), so a user can
check a template pack before configuring anything; with a config they use ``[templates]`` and ``[tone]``.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import click

from followupd.cli.groups import State, handle_errors, main
from followupd.cli.shapes import render_table
from followupd.compose.checked import use_cache_dir
from followupd.compose.checks import (
    DEFAULT_TOTAL_TOUCHES,
    SAMPLE_SIGNATURE,
    SAMPLE_USER,
    Problem,
    bare_message,
    check_variants,
    file_tone_problems,
    find_problems,
)
from followupd.compose.coverage import coverage_problems
from followupd.compose.language import DEFAULT_LANGUAGE, is_language_code
from followupd.compose.library import TemplateLibrary, builtin_templates_dir
from followupd.compose.scan import read_template, scan_templates
from followupd.compose.tone import BUILTIN_BANNED, ToneSettings
from followupd.compose.variant import SET_FOLDERS, SET_STAGES, STAGES
from followupd.config import Config, load_config
from followupd.config.paths import default_cache_dir
from followupd.errors import TemplateError, exit_code_for


def _config_if_any(state: State) -> Config | None:
    """The config when its file exists (a broken one is still an error, exit 2); None on a fresh install."""
    use_cache_dir(default_cache_dir(os.environ))  # every templates command calls this first
    path = state.config_path
    return load_config(path, os.environ) if path.exists() else None


@main.group("templates")
def templates_group() -> None:
    """Check follow-up templates, and list which ones are active."""


@templates_group.command("check")
@click.argument("path", required=False, type=click.Path(exists=True, path_type=Path))
@click.option("--strict", is_flag=True, help="Fail (exit 2) on warnings too, not only on errors.")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object: checked (how many template files), errors, warnings (counts), ok "
                   "(what the exit code says) and problems, each with path, line (null for the whole file), "
                   "severity (error or warning) and message. Exit codes are as without --json.")
@click.pass_obj
@handle_errors
def templates_check(state: State, path: Path | None, strict: bool, as_json: bool) -> None:
    """Render every template against sample threads and check its tone and how it reads.

    PATH is a template file or a template folder; without it, the active templates (built-in plus your
    [templates] dir). Prints one line per problem, `path:line: error|warning: message`. Exit 2 on any error,
    and with --strict on any warning too; otherwise 0.
    """
    config = _config_if_any(state)
    tone = config.tone if config else ToneSettings()
    samples = _Samples(
        total_touches=len(config.cadence.gaps) if config else DEFAULT_TOTAL_TOUCHES,
        user_name=(config.identity.name if config else "") or SAMPLE_USER,
        signature=(config.identity.signature if config else "") or SAMPLE_SIGNATURE,
    )
    if path is not None and path.is_file():
        problems, count = _check_file(path, tone, samples)
    elif path is not None and _is_set_folder(path):
        problems, count = [], 0
        for file in sorted(path.rglob("*.txt")):
            found, checked = _check_file(file, tone, samples)
            problems, count = problems + found, count + checked
    else:
        settings = config.templates if config else None
        base = path if path is not None else builtin_templates_dir()
        overlay = settings.dir if settings and path is None else None
        disable = settings.disable if settings and path is None else ()
        scan = scan_templates(base, overlay=overlay, disable=disable)
        problems = find_problems(scan, tone, config_path=config.path if config else None,
                                 total_touches=samples.total_touches, user_name=samples.user_name,
                                 signature=samples.signature, prose=True)
        count = len(scan.files)
        problems += coverage_problems(scan.variants, samples.total_touches, overlay or base)
        if path is None and not scan.errors:
            try:
                TemplateLibrary.from_scan(base, scan, lang=settings.lang if settings else DEFAULT_LANGUAGE,
                                          overlay=overlay)
            except TemplateError as exc:
                problems.append(Problem(config.path if config else base, None, "error", str(exc)))
    errors = sum(1 for p in problems if p.severity == "error")
    warnings = len(problems) - errors
    failed = bool(errors or (strict and warnings))
    if as_json:
        click.echo(json.dumps({"checked": count, "errors": errors, "warnings": warnings, "ok": not failed,
                               "problems": [{"path": str(p.path), "line": p.line, "severity": p.severity,
                                             "message": p.message} for p in problems]}, indent=2))
    else:
        for problem in problems:
            click.echo(str(problem))
        click.echo(f"{count} template(s) checked: {errors} error(s), {warnings} warning(s)")
    if failed:
        sys.exit(exit_code_for(TemplateError))


@dataclass(frozen=True)
class _Samples:
    """How the sample threads are rendered: the configured cadence length and the user's own signature."""

    total_touches: int
    user_name: str
    signature: str


def _is_set_folder(path: Path) -> bool:
    """A folder inside a template library rather than a library: a stage folder, or ``commitment/`` or
    ``actions/`` or one of their stages. Its files are checked one by one (a library scan would call them
    misplaced)."""
    return (path.name in STAGES or path.name in SET_FOLDERS
            or f"{path.parent.name}/{path.name}" in SET_STAGES)


def _check_file(path: Path, tone: ToneSettings, samples: _Samples) -> tuple[list[Problem], int]:
    """One file: its stage from its folder, its language from the folder above when that names one."""
    stage = path.parent.name
    stage_folder = path.parent
    problems: list[Problem] = []
    if f"{path.parent.parent.name}/{stage}" in SET_STAGES:
        stage = f"{path.parent.parent.name}/{stage}"  # commitment/reminder/x.txt, actions/later/x.txt
        stage_folder = path.parent.parent
    elif stage not in STAGES:
        problems.append(Problem(path, None, "warning", f"not in a stage folder ({', '.join(STAGES)}, "
                                                       f"{', '.join(SET_STAGES)}); followupd only loads "
                                                       "<stage>/<name>.txt"))
        stage = STAGES[0]
    language = stage_folder.parent.name
    known = language in BUILTIN_BANNED or language in tone.languages
    lang = language if is_language_code(language) and known else DEFAULT_LANGUAGE
    try:
        variant = read_template(path, stage=stage, lang=lang)
    except TemplateError as exc:  # its tone warnings too: one run lists every problem of the file
        found = [*problems, Problem(path, exc.line, "error", bare_message(exc))]
        return _sorted_problems([*found, *file_tone_problems(path, tone.rules(lang))]), 1
    problems += check_variants([variant], tone, total_touches=samples.total_touches, user_name=samples.user_name,
                               signature=samples.signature, prose=True)
    return problems, 1


def _sorted_problems(problems: list[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: (p.line or 0, p.severity != "error"))


@templates_group.command("list")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object: builtin (the built-in templates' folder), overlay (your [templates] dir "
                   "or null), language (the setting), languages (the sets), templates, each with lang, stage, "
                   "template, path, source (builtin or yours) and replaces_builtin, then disabled (template keys) "
                   "and unmatched_disable (patterns that match nothing; also warned on stderr).")
@click.pass_obj
@handle_errors
def templates_list(state: State, as_json: bool) -> None:
    """Show every active template by language and stage, and whose file wins: built-in or yours."""
    config = _config_if_any(state)
    settings = config.templates if config else None
    builtin = builtin_templates_dir()
    overlay = settings.dir if settings else None
    library = TemplateLibrary.load(builtin, overlay=overlay, disable=settings.disable if settings else (),
                                   lang=settings.lang if settings else DEFAULT_LANGUAGE)
    scan = library.scan
    replaced = scan.replaced if scan else frozenset()
    if as_json:
        _list_json(library, builtin, overlay, replaced)
        return
    source = f"built-in ({builtin})" + (f", shadowed file by file by {overlay}" if overlay else "")
    click.echo(f"templates: {source}")
    lang_note = ' (by each message\'s subject; "en" when unsure)' if library.setting == "auto" else ""
    click.echo(f"language: {library.setting}{lang_note}; sets: {', '.join(library.languages())}")
    rows = []
    for variant in library.every_variant():
        if overlay is not None and variant.path.is_relative_to(overlay):
            where = f"{variant.path}" + (" (replaces the built-in one)" if variant.key in replaced else "")
        else:
            where = "built-in"
        rows.append([variant.lang, variant.stage, variant.key, where])
    click.echo(render_table(["LANG", "STAGE", "TEMPLATE", "FILE"], rows))
    if scan and scan.disabled:
        click.echo("disabled ([templates] disable): " + ", ".join(found.key for found in scan.disabled))
    for pattern in scan.unmatched_disable if scan else ():
        click.echo(f'warning: [templates] disable: "{pattern}" matches no built-in template', err=True)


def _list_json(library: TemplateLibrary, builtin: Path, overlay: Path | None, replaced: frozenset[str]) -> None:
    scan = library.scan
    entries = []
    for variant in library.every_variant():
        yours = overlay is not None and variant.path.is_relative_to(overlay)
        entries.append({"lang": variant.lang, "stage": variant.stage, "template": variant.key,
                        "path": str(variant.path), "source": "yours" if yours else "builtin",
                        "replaces_builtin": yours and variant.key in replaced})
    unmatched = list(scan.unmatched_disable) if scan else []
    click.echo(json.dumps({
        "builtin": str(builtin), "overlay": str(overlay) if overlay is not None else None,
        "language": library.setting, "languages": list(library.languages()), "templates": entries,
        "disabled": [found.key for found in scan.disabled] if scan else [], "unmatched_disable": unmatched,
    }, indent=2))
    for pattern in unmatched:
        click.echo(f'warning: [templates] disable: "{pattern}" matches no built-in template', err=True)

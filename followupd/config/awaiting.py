"""The issue 14 settings: ``[tracking] auto / suggest_days / auto_exclude`` and the ``[owed]`` section.

A module of its own (not followupd.config.sections) so those keys are read in one place, next to nothing else;
followupd.config.sections' ``build_tracking`` calls :func:`auto_tracking` for its table.
"""

from __future__ import annotations

from followupd.config.model import AUTO_MODES, AutoMode, OwedConfig
from followupd.config.schema import Table, toml_repr
from followupd.planning.awaiting import parse_exclude_pattern
from followupd.planning.cadence import parse_gap


def auto_tracking(table: Table) -> tuple[AutoMode, int, tuple[str, ...]]:
    """(auto, suggest_days, auto_exclude) of ``[tracking]``; bad values are reported by key with their fix."""
    mode: AutoMode = "off"
    text = table.text("auto")
    if text is not None:
        wanted = text.strip().lower()
        chosen = next((candidate for candidate in AUTO_MODES if candidate == wanted), None)
        if chosen is None:
            table.bad("auto", 'use "off" (only mail you BCC is tracked), "suggest" (sent mail that asks something '
                              'is suggested: `followupd suggestions`) or "track" (it is tracked at once)')
        else:
            mode = chosen
    days = table.integer("suggest_days")
    if days is not None and days < 1:
        table.bad("suggest_days", "use a whole number of days, at least 1, e.g. 14")
        days = None
    patterns: list[str] = []
    for raw in table.items("auto_exclude") or []:
        try:
            pattern = parse_exclude_pattern(str(raw))
        except ValueError as exc:
            table.bad("auto_exclude", str(exc), shown=toml_repr(raw))
            continue
        if pattern not in patterns:
            patterns.append(pattern)
    return mode, days if days is not None else 14, tuple(patterns)


def build_owed(table: Table) -> OwedConfig:
    """``[owed]``: off unless ``enabled = true``; ``after`` in the [cadence] grammar ("2bd", "1w", "36h")."""
    defaults = OwedConfig()
    enabled = table.values.get("enabled")
    after = defaults.after
    text = table.text("after")
    if text is not None:
        try:
            after = parse_gap(text)
        except ValueError as exc:
            table.bad("after", str(exc))
    return OwedConfig(enabled=enabled if isinstance(enabled, bool) else defaults.enabled, after=after)

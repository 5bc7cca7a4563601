"""What one template is: its stage, its language set and the key recorded with every touch.

Template files live in stage folders (``first/``, ``middle/``, ``later/``, ``final/``), one variant per
``<name>.txt``: a ``Subject:`` line, a blank line, then the body, Jinja in both. ``templates/README.md`` is
the user-facing description of the format. Those folders are the English set; another language's set lives in
``<lang>/<stage>/``. Beside them, ``commitment/reminder/`` and ``commitment/update/`` hold the reminder to the
user and the update draft for a promise the user made (``+followup-me``); no follow-up stage ever uses them. Likewise
``actions/<checkin|later|final|rollup>/`` hold the check-ins to one owner about their own action items from a
meeting recap, and the roll-up of every item to all the recap's recipients.

Every other compose module speaks in these names, so they live apart from the code that finds, chooses and
renders the files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from followupd.compose.language import DEFAULT_LANGUAGE
from followupd.errors import TemplateError

STAGES: tuple[str, ...] = ("first", "middle", "later", "final")

#: The folder holding the templates for the user's own promises (``+followup-me``), beside the stage folders.
COMMITMENT_FOLDER = "commitment"
#: Its two sets, each a "stage" of its own that a follow-up never uses: the reminder to the user, and the
#: update draft to the recipients. Their keys look like ``commitment/reminder/<name>.txt``.
REMINDER_STAGE = f"{COMMITMENT_FOLDER}/reminder"
UPDATE_STAGE = f"{COMMITMENT_FOLDER}/update"
COMMITMENT_STAGES: tuple[str, ...] = (REMINDER_STAGE, UPDATE_STAGE)

#: The folder holding the templates for a meeting recap's action items, beside the stage folders.
ACTIONS_FOLDER = "actions"
#: The first personal check-in to one owner about their own open items, the later ones, the last one (asking
#: whether to drop or hand over the items), and the roll-up of every item to everyone on the recap. Like the
#: commitment sets, each is a "stage" no follow-up ever uses: ``actions/checkin/<name>.txt``.
CHECKIN_STAGE = f"{ACTIONS_FOLDER}/checkin"
LATER_CHECKIN_STAGE = f"{ACTIONS_FOLDER}/later"
FINAL_CHECKIN_STAGE = f"{ACTIONS_FOLDER}/final"
ROLLUP_STAGE = f"{ACTIONS_FOLDER}/rollup"
ACTIONS_STAGES: tuple[str, ...] = (CHECKIN_STAGE, LATER_CHECKIN_STAGE, FINAL_CHECKIN_STAGE, ROLLUP_STAGE)

#: Every set folder beside the follow-up stages, with its stages: the scan, the library and the CLI treat them
#: alike, and none of their stages lends to or borrows from another.
SET_FOLDERS: dict[str, tuple[str, ...]] = {COMMITMENT_FOLDER: COMMITMENT_STAGES, ACTIONS_FOLDER: ACTIONS_STAGES}
SET_STAGES: tuple[str, ...] = COMMITMENT_STAGES + ACTIONS_STAGES
ALL_STAGES: tuple[str, ...] = STAGES + SET_STAGES


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


def template_error(path: Path, line: int | None, problem: str) -> TemplateError:
    """A problem at a place in a template file, worded the same whether loading or rendering found it."""
    where = f"{path} line {line}" if line is not None else str(path)
    return TemplateError(f"{where}: {problem}", path=str(path), line=line)

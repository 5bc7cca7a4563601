"""An instant CLI (issue 16 point 3): each command imports what it needs, when it runs.

The timings (``--help`` <= 150 ms, ``status`` on 1,000 threads <= 400 ms) live in bench/ (``bench/cli.py``);
what a test can hold without a stopwatch is *which* modules a command loads: ``--help`` must not import
SQLAlchemy, Alembic, Jinja2 or imapclient (each costs 0.1-0.3 s), ``status`` must not load the engine, the
templates or the IMAP client, nor SQLAlchemy on an SQLite database at the head revision. And the lazily
loaded commands must look the same in ``--help`` as before.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY_FOR_HELP = ("sqlalchemy", "alembic", "jinja2", "imapclient", "apscheduler",
                  "followupd.config", "followupd.engine.cycle",
                  "followupd.compose.render", "followupd.compose.library")  # (store: sqlalchemy says it)
HEAVY_FOR_STATUS = ("alembic", "jinja2", "imapclient", "apscheduler", "smtplib",
                    "followupd.engine.cycle", "followupd.compose.render", "followupd.compose.library",
                    "followupd.adapters.imap",
                    "followupd.engine.drafts",
                    # the mail readers, which [replies]' settings type (planning.interpret) would bring
                    "followupd.planning.interpret", "followupd.mail.bodytext", "followupd.mail.dsn")


CLI_DIR = Path(__file__).parent.parent / "followupd" / "cli"
CLI_MODULES = sorted(p.stem for p in CLI_DIR.glob("*.py") if p.stem not in ("__init__", "__main__"))


def _modules_after(args: list[str], tmp_path: Path, *, preload: str = "") -> tuple[set[str], str]:
    """Run ``followupd ARGS`` in a fresh interpreter; the modules it had loaded at exit, and its stdout."""
    listing = tmp_path / "modules.json"
    code = (f"import sys, json\n{preload}\nfrom followupd.cli import main\n"
            f"try:\n    main({args!r}, prog_name='followupd')\nexcept SystemExit as exc:\n    code = exc.code\n"
            f"json.dump(sorted(sys.modules), open({str(listing)!r}, 'w'))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    return set(json.loads(listing.read_text())), result.stdout


def _loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return [name for name in names if name in modules]


def test_help_imports_no_database_template_or_imap_library(tmp_path: Path) -> None:
    modules, output = _modules_after(["--help"], tmp_path)
    assert "Commands:" in output
    assert _loaded(modules, HEAVY_FOR_HELP) == []


def test_help_lists_lazily_loaded_commands_exactly_as_when_they_are_imported(tmp_path: Path) -> None:
    _, lazy = _modules_after(["--help"], tmp_path)
    # Every followupd.cli module imported up front: a command one of them adds without an entry in the lazy
    # table of cli/groups.py would show here and not in the lazy listing.
    assert len(CLI_MODULES) > 5
    preload = "\n".join(f"import followupd.cli.{m}" for m in CLI_MODULES)
    _, eager = _modules_after(["--help"], tmp_path, preload=preload)
    assert lazy == eager
    _, eager_outbox = _modules_after(["outbox", "--help"], tmp_path, preload=preload)
    for name in ("db", "doctor", "items", "note", "owed", "snooze", "stats", "templates", "outbox", "status", "poll"):
        assert f"\n  {name} " in lazy
    for name in ("suggestions", "track", "ignore"):  # awaiting a reply without the BCC (issue 14)
        assert f"\n  {name} " in lazy
    _, lazy_outbox = _modules_after(["outbox", "--help"], tmp_path)
    assert lazy_outbox == eager_outbox
    for name in ("approve", "edit", "show", "skip", "stop"):
        assert f"\n  {name} " in lazy_outbox


@pytest.mark.parametrize("args", [["db", "--help"], ["templates", "--help"], ["snooze", "--help"]])
def test_lazily_loaded_commands_still_run(args: list[str], tmp_path: Path) -> None:
    _, output = _modules_after(args, tmp_path)
    assert "Usage: followupd" in output


def test_status_reads_the_database_without_loading_engine_templates_or_imap(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f"""
[account]
host = "127.0.0.1"
port = 1
tls = "none"
username = "alex"
password_env = "NOT_NEEDED_FOR_STATUS"

[identity]
name = "Alex Example"
addresses = ["alex@example.test"]
timezone = "UTC"

[tracking]
address = "alex+followup@example.test"

[database]
url = "sqlite:///{tmp_path / 'state.db'}"
""")
    args = ["--config", str(config), "status", "--json"]
    first, _ = _modules_after(args, tmp_path)
    assert "alembic" in first  # a new database is created by the migrations; one at their head needs none
    modules, output = _modules_after(args, tmp_path)
    assert json.loads(output) == []
    # A database at the head revision is read with sqlite3 (adapters/store/fastread), without SQLAlchemy.
    assert "sqlite3" in modules and "followupd.adapters.store.fastread" in modules
    assert _loaded(modules, ("sqlalchemy", "ssl", *HEAVY_FOR_STATUS)) == []
    text_modules, text = _modules_after(args[:-1], tmp_path)
    assert text.startswith("No tracked threads yet.")
    assert _loaded(text_modules, ("sqlalchemy", "ssl", *HEAVY_FOR_STATUS)) == []
    # `stats` is as light: it reads the same database and computes, nothing more.
    modules, output = _modules_after(["--config", str(config), "stats", "--json"], tmp_path)
    assert [entry["tracked"] for entry in json.loads(output)] == [0]
    assert "followupd.planning.stats" in modules and _loaded(modules, HEAVY_FOR_STATUS) == []
    # `owed` too: the replies you owe are rows in the same database, listed without the engine.
    modules, output = _modules_after(["--config", str(config), "owed", "--json"], tmp_path)
    assert json.loads(output) == []
    assert "followupd.planning.owed" in modules and _loaded(modules, HEAVY_FOR_STATUS) == []
    assert "followupd.engine.owed" not in modules


def test_python_dash_m_runs_lazily_loaded_commands_too() -> None:
    """`python -m followupd.cli` runs the module as __main__; the lazily loaded commands must still be found."""
    result = subprocess.run([sys.executable, "-m", "followupd.cli", "db", "--help"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "upgrade" in result.stdout and "status" in result.stdout


def _cli_imports(path: Path) -> list[tuple[str, int]]:
    """Every followupd.cli module ``path`` imports, anywhere in it (inside functions too), with its line."""
    found: list[tuple[str, int]] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found += [(name, node.lineno) for name in names if name.removeprefix("followupd.cli.") in CLI_MODULES
                  and name.startswith("followupd.cli.")]
    return found


def test_commands_register_one_way_through_groups() -> None:
    """Command modules import ``groups`` (and helpers), never another command module, and ``groups`` imports
    none of them: ``main.lazy`` names them instead. A cycle here is what made ``--help`` import everything."""
    from followupd.cli.groups import main

    commands = {module.removeprefix("followupd.cli.") for module, _ in main.lazy.values()}
    assert {"root", "threads", "outbox", "db", "doctor", "templates"} <= commands
    problems = []
    for path in sorted(CLI_DIR.glob("*.py")):
        for name, line in _cli_imports(path):
            target = name.removeprefix("followupd.cli.")
            if target in commands or (path.stem == "groups" and target != "lazy" and target != "logs"):
                problems.append(f"{path.name}:{line} imports followupd.cli.{target}")
    assert problems == [], "\n".join(problems)


REPLIES = """
[account]
host = "127.0.0.1"
tls = "none"
username = "alex"
password_env = "NOT_NEEDED"

[identity]
addresses = ["alex@example.test"]
timezone = "UTC"

[tracking]
address = "alex+followup@example.test"
"""


def test_replies_settings_built_on_first_use_are_what_the_section_says(tmp_path: Path) -> None:
    """[replies] is checked when the config loads but its settings type (planning.interpret, which imports the
    mail readers) is built when a cycle first reads it: the same values, defaults where nothing was written."""
    from datetime import timedelta

    from followupd.config import load_config
    from followupd.errors import ConfigError
    from followupd.mail.intent_phrases import PhraseSet
    from followupd.planning.cadence import Gap
    from followupd.planning.interpret import ReplySettings

    path = tmp_path / "config.toml"
    path.write_text(REPLIES)
    assert load_config(path, {}).replies == ReplySettings()
    path.write_text(REPLIES + """
[replies]
ooo_grace = "2bd"
ooo_default_postpone = "10d"
ooo_horizon_days = 30
holding_default = "2w"
match_domain = true

[replies.de]
holding = ["bin  dran"]
replace = true
""")
    replies = load_config(path, {}).replies
    assert replies == ReplySettings(ooo_grace=Gap(2, "bd"), ooo_default_postpone=timedelta(days=10),
                                    ooo_horizon_days=30, holding_default=timedelta(weeks=2), match_domain=True,
                                    phrases={"de": PhraseSet(holding=("bin dran",), replace=True)})
    path.write_text(REPLIES + '\n[replies]\nooo_horizon_days = 0\nholding_default = "3h"\n')
    with pytest.raises(ConfigError) as caught:  # still refused at load, not at the first cycle
        load_config(path, {})
    assert "use 1 to 366 days" in str(caught.value) and 'use at least a day, e.g. "1w"' in str(caught.value)

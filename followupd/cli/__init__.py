"""The ``followupd`` command line: the only code that prints for humans and chooses an exit code.

``groups`` holds the command group and names the module of every command; each module registers its commands
on it when used (``lazy.LazyGroup``), so ``followupd --help`` stays fast. ``followupd.cli:main`` is the console
script. Registration runs one way: command modules import ``groups``, never each other.
"""

from followupd.cli.groups import main

__all__ = ["main"]

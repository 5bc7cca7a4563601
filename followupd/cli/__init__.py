"""The ``followupd`` command line: the only code that prints for humans and chooses an exit code.

``root`` holds the command group and the everyday commands; the other modules register theirs on it when used
(``lazy.LazyGroup``), so ``followupd --help`` stays fast. ``followupd.cli:main`` is the console script.
"""

from followupd.cli.root import main

__all__ = ["main"]

"""``python -m followupd.cli``: the same as the ``followupd`` console script."""

from followupd.cli.groups import main

main()

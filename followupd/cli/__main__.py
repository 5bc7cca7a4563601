"""``python -m followupd.cli``: the same as the ``followupd`` console script."""

from followupd.cli.root import main

main()

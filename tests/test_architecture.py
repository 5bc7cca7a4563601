"""Architecture rules DESIGN.md promises, held by reading the source with ``ast``.

The import rule of each package (the pure core, config, adapters, engine, runtime) is in tests/test_layers.py.
"""

from __future__ import annotations

"""Template checks already passed, remembered so an unchanged library is not checked again by every process.

Why: every ``followupd`` command that drafts loads the whole library, and the daemon checks it at start-up by
rendering every template for every sample thread. With about 140 templates that cost 0.8 s for the load check
(parse, name check, compile) plus 0.8 s for the start-up check, in every process, every time, for files that
had not changed. Both checks are pure functions of their inputs: the template text, the tone settings and
sample parameters, and the code that checks (followupd's compose modules, Jinja's and Babel's versions). So a
result is remembered under a digest of exactly those inputs: in memory for this process, and as a small JSON
file in a cache folder (:func:`use_cache_dir`) for the next one.

Only results are remembered, never a failure: a check that raises (a broken template) raises again next time,
so an error is reported by every command, as before. Anything wrong with the cache folder (missing, read-only
as under systemd's ``ProtectHome``, full disk, a damaged file) costs only the speed-up: the check runs again.
Files are written whole under a temporary name and renamed, so two processes never see half of one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable, Iterable
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")

_memory: dict[str, object] = {}
_cache_dir: Path | None = None


def use_cache_dir(directory: Path | None) -> None:
    """Remember check results on disk in ``directory`` (created when first needed); None: this process only."""
    global _cache_dir
    _cache_dir = directory


def remembered(kind: str, inputs: Iterable[str], compute: Callable[[], T], *,
               dump: Callable[[T], object], load: Callable[[object], T]) -> T:
    """``compute()``, or the result it gave before for the same ``kind`` and ``inputs``.

    ``dump`` turns a result into JSON-ready data and ``load`` back; ``compute`` raising stores nothing."""
    digest = _digest(kind, inputs)
    if digest in _memory:
        return load(_memory[digest])
    stored = _read(kind, digest)
    if stored is not None:
        try:
            value = load(stored[0])
        except (TypeError, ValueError, KeyError, IndexError):
            pass  # a file from an older layout: check again and overwrite it
        else:
            _memory[digest] = stored[0]
            return value
    result = compute()
    data = dump(result)
    _memory[digest] = data
    _write(kind, digest, data)
    return result


def forget() -> None:
    """Drop what this process remembers (the disk cache stays); for tests that count checks."""
    _memory.clear()


def _digest(kind: str, inputs: Iterable[str]) -> str:
    hasher = hashlib.sha256()
    for part in (_code_stamp(), kind, *inputs):
        encoded = part.encode("utf-8", "surrogatepass")
        hasher.update(len(encoded).to_bytes(8, "big"))  # lengths first: ("ab", "c") never equals ("a", "bc")
        hasher.update(encoded)
    return hasher.hexdigest()


@lru_cache(maxsize=1)
def _code_stamp() -> str:
    """The checking code's identity: Jinja's and Babel's versions, and the size and mtime of every compose
    module (an upgrade of followupd rewrites them), so neither an upgrade nor a developer's edit ever reuses a
    result the old code gave."""
    import babel
    import jinja2

    here = Path(__file__).resolve().parent
    modules = []
    for path in sorted(here.glob("*.py")):
        try:
            info = path.stat()
        except OSError:
            continue
        modules.append(f"{path.name}:{info.st_size}:{info.st_mtime_ns}")
    return "|".join([jinja2.__version__, babel.__version__, *modules])


def _path(kind: str, digest: str) -> Path | None:
    return None if _cache_dir is None else _cache_dir / f"{kind}-{digest}.json"


def _read(kind: str, digest: str) -> tuple[object] | None:
    path = _path(kind, digest)
    if path is None:
        return None
    try:
        return (json.loads(path.read_text(encoding="utf-8")),)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        logger.debug("template check cache: cannot read %s (%s); checking again", path, exc)
        return None


def _write(kind: str, digest: str, data: object) -> None:
    path = _path(kind, digest)
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(data, out)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as exc:
        logger.debug("template check cache: cannot write %s (%s); results stay in this process", path, exc)

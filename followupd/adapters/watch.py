"""Push: notice changes in watched folders within seconds through IMAP IDLE (RFC 2177), instead of waiting for
the next poll.

IDLE reports changes to the selected folder only, so each watched folder gets its own thread and connection
(:class:`FolderWatcher`); :class:`WatcherGroup` holds those of one account. A watcher never reads mail: it says
"this folder changed" (``on_change(folder)``) and the engine's usual incremental fetch, on its own connection,
finds out what. That keeps one code path for reading, and a watcher that misses nothing as long as it calls
``on_change`` after every moment it could have missed something:

* after each (re)connection, once IDLE is running: mail that arrived while it was away, or before it first
  started, is then the engine's to fetch, and whatever arrives later produces an IDLE response;
* after each burst of changes, debounced: fifty deliveries in a second are one or two callbacks, not fifty.

Folders are opened with EXAMINE: watching never sets ``\\Seen`` and never takes ``\\Recent`` away from the
user's client. The IDLE is renewed (DONE, IDLE) every ``renew_every`` (9 minutes by default): RFC 2177 allows a
server to drop a client idle for 30 minutes, and NAT boxes and Gmail drop silent connections sooner. A lost
connection is retried with exponential back-off and jitter; the thread never dies of an exception, logs one
WARNING per outage (not per retry) and one INFO on recovery. ``on_change`` runs on the watcher's thread: it
should only hand the work over (wake the scheduler), not run a whole cycle.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from followupd.adapters.imap import Mailbox
from followupd.errors import MailboxError

__all__ = ["STATES", "FolderWatcher", "WatcherGroup"]

logger = logging.getLogger(__name__)

STATES = ("starting", "idling", "reconnecting", "unsupported", "stopped")

# How often the thread looks at the stop flag while idling: stop() returns within about this, plus DONE and
# LOGOUT round trips.
_TICK = 0.5
# Debounce: a burst of changes is reported once the folder has been quiet for _QUIET seconds, and never later
# than _MAX_DELAY after its first change, so a steady stream still gets noticed. Dovecot 2.3 already batches
# IDLE notifications, one every ~0.51 s (measured), so a window shorter than that would merge nothing there;
# servers that report each delivery at once get the same treatment. The margin over 0.5 s absorbs a late timer
# on a busy host. A lone reply costs the server's delay plus _QUIET: about 1.3 s on Dovecot.
_QUIET = 0.75
_MAX_DELAY = 2.0
# First reconnection delay; it doubles per failed attempt up to max_backoff.
_FIRST_BACKOFF = 1.0


class FolderWatcher:
    """One thread, one IMAP connection, one folder: IDLE until the server reports a change, then call on_change."""

    def __init__(self, open_mailbox: Callable[[], Mailbox], folder: str, on_change: Callable[[str], None], *,
                 renew_every: timedelta = timedelta(minutes=9), max_backoff: timedelta = timedelta(minutes=5),
                 name: str = "") -> None:
        """``open_mailbox`` gives a fresh logged-in connection each call (the watcher owns and closes it)."""
        if renew_every <= timedelta(0):
            raise ValueError(f"renew_every must be positive, not {renew_every}")
        if max_backoff <= timedelta(0):
            raise ValueError(f"max_backoff must be positive, not {max_backoff}")
        self.folder = folder
        self.name = name or folder
        self._open_mailbox = open_mailbox
        self._on_change = on_change
        self._renew_every = renew_every.total_seconds()
        self._max_backoff = max_backoff.total_seconds()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._state = "starting"
        self._last_error: str | None = None
        self._renewals = 0

    # -- public --------------------------------------------------------------------------------------------

    @property
    def state(self) -> str:
        """``starting``, ``idling``, ``reconnecting``, ``unsupported`` (no IDLE: the caller polls) or
        ``stopped``."""
        return self._state

    @property
    def last_error(self) -> str | None:
        """Why the connection was last lost (a MailboxError message: server and action, never a secret).

        Kept after recovery, for diagnostics; :attr:`state` says whether the watcher is healthy now.
        """
        return self._last_error

    @property
    def renewals(self) -> int:
        """How many times IDLE was ended and re-issued on a live connection (for tests and diagnostics)."""
        return self._renewals

    def start(self) -> None:
        """Start the daemon thread; it connects, EXAMINEs the folder and IDLEs until :meth:`stop`."""
        if self._thread is not None:
            raise RuntimeError(f"watcher {self.name!r} was already started")
        self._thread = threading.Thread(target=self._run, name=f"followupd-idle {self.name}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """End IDLE (DONE), LOGOUT and join the thread; returns after at most ``timeout`` seconds regardless.

        Safe to call twice, before start(), and from ``on_change`` itself (it then does not wait for itself).
        """
        self._request_stop()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                logger.warning("%s: watcher thread did not stop within %g s (a connection attempt may be "
                               "hanging); leaving it behind", self.name, timeout)
        self._state = "stopped"

    def _request_stop(self) -> None:
        self._stop.set()

    # -- the thread ----------------------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._loop()
        except Exception:  # a bug: log it rather than let the thread die with a bare traceback on stderr
            logger.exception("%s: IDLE watcher failed unexpectedly; the regular poll still finds new mail",
                             self.name)
            self._last_error = "internal error in the IDLE watcher (see the log)"
        finally:
            if self._state != "unsupported" or self._stop.is_set():
                self._state = "stopped"

    def _loop(self) -> None:
        failures = 0  # failed attempts since IDLE last ran
        in_outage = False
        while not self._stop.is_set():
            connected, error = self._session(recovering=in_outage)
            if error is None or self._stop.is_set():  # stopped, or no IDLE on this server
                return
            if connected:  # IDLE ran, then broke: a new outage begins
                failures, in_outage = 0, False
            if not in_outage:
                in_outage = True
                logger.warning("%s: watching folder %r for changes was interrupted (%s); reconnecting with "
                               "back-off, the regular poll still runs", self.name, self.folder, error)
            else:
                logger.debug("%s: reconnecting to watch %r failed again: %s", self.name, self.folder, error)
            self._state = "reconnecting"
            self._last_error = error
            # Exponential back-off with jitter, so the watchers of many folders and accounts do not all knock
            # at the same moment after a server restart.
            delay = min(self._max_backoff, _FIRST_BACKOFF * 2 ** min(failures, 30)) * random.uniform(0.7, 1.0)
            failures += 1
            self._stop.wait(delay)

    def _session(self, *, recovering: bool) -> tuple[bool, str | None]:
        """One connection's life: (whether IDLE ran, why it ended), the reason None when not to retry."""
        mailbox: Mailbox | None = None
        idling = False
        try:
            mailbox = self._open_mailbox()
            if self._stop.is_set():
                return False, None
            if not mailbox.idle_supported():
                logger.info("%s: the server does not offer IDLE; folder %r is only polled", self.name,
                            self.folder)
                self._state = "unsupported"
                return False, None
            mailbox.examine(self.folder)
            mailbox.idle_start()
            idling = True
            if recovering:
                logger.info("%s: watching folder %r again", self.name, self.folder)
            else:
                logger.debug("%s: watching folder %r with IDLE", self.name, self.folder)
            # Whatever arrived before IDLE began (while we were away, or before the first start) is fetched by
            # the caller now; anything later produces an IDLE response.
            self._notify()
            self._state = "idling"
            self._idle(mailbox)
            return True, None
        except MailboxError as exc:
            return idling, str(exc)
        except Exception as exc:  # a bug somewhere below: retry like an outage rather than stop watching
            logger.exception("%s: unexpected error while watching folder %r", self.name, self.folder)
            return idling, f"unexpected {type(exc).__name__} while watching (see the log)"
        finally:
            if mailbox is not None:
                # After an error the connection is broken or in an unknown state: no DONE, just LOGOUT/close.
                self._close(mailbox, idling=idling and self._stop.is_set())

    def _idle(self, mailbox: Mailbox) -> None:
        """IDLE until stop() is requested; renew it every renew_every; debounce change notifications."""
        renew_at = time.monotonic() + self._renew_every
        burst_start: float | None = None  # first change not yet reported
        last_change = 0.0
        while not self._stop.is_set():
            now = time.monotonic()
            if burst_start is not None and (now - last_change >= _QUIET or now - burst_start >= _MAX_DELAY):
                burst_start = None
                self._notify()
                continue
            if now >= renew_at:
                changes = mailbox.idle_end()
                mailbox.idle_start()
                self._renewals += 1
                renew_at = time.monotonic() + self._renew_every
            else:
                wait = min(_TICK, renew_at - now)
                if burst_start is not None:
                    wait = min(wait, last_change + _QUIET - now, burst_start + _MAX_DELAY - now)
                changes = mailbox.idle_wait(max(wait, 0.0))
            if changes:
                last_change = time.monotonic()
                if burst_start is None:
                    burst_start = last_change

    def _notify(self) -> None:
        try:
            self._on_change(self.folder)
        except Exception:  # the handler's bug must not end the watching
            logger.exception("%s: the change handler failed for folder %r", self.name, self.folder)

    def _close(self, mailbox: Mailbox, *, idling: bool) -> None:
        """DONE (when still idling) and LOGOUT; a connection that already broke is just closed."""
        if idling:
            try:
                mailbox.idle_end()
            except MailboxError as exc:
                logger.debug("%s: ending IDLE failed (%s); closing the connection", self.name, exc)
        mailbox.logout()


class WatcherGroup:
    """All watchers of one account."""

    def __init__(self, open_mailbox: Callable[[], Mailbox], folders: Sequence[str],
                 on_change: Callable[[str], None], **watcher_options: Any) -> None:
        """``watcher_options`` go to every :class:`FolderWatcher` (``renew_every``, ``max_backoff``, ``name``;
        ``name`` is prefixed to each folder's watcher name)."""
        if isinstance(folders, str):
            raise TypeError("folders must be a sequence of folder names, not one string")
        self._folders = tuple(dict.fromkeys(folders))
        if not self._folders:
            raise ValueError("a WatcherGroup needs at least one folder to watch")
        self._open_mailbox = open_mailbox
        self._on_change = on_change
        self._name = str(watcher_options.pop("name", "") or "")
        self._options = watcher_options
        self._watchers: dict[str, FolderWatcher] = {}

    def start(self) -> bool:
        """Start one watcher per folder; False (and starts nothing) when the server has no IDLE: caller polls.

        Also False, with a WARNING, when the server cannot be reached to ask: polling works regardless, and
        start() may be called again later. The connection that asked is handed to the first watcher.
        """
        if self._watchers:
            return True
        try:
            probe = self._open_mailbox()
        except MailboxError as exc:
            logger.warning("%scannot ask the server whether it offers IDLE (%s); polling instead",
                           self._prefix(), exc)
            return False
        try:
            supported = probe.idle_supported()
        except MailboxError as exc:
            probe.logout()
            logger.warning("%scannot ask the server whether it offers IDLE (%s); polling instead",
                           self._prefix(), exc)
            return False
        if not supported:
            probe.logout()
            logger.info("%sthe server does not offer IDLE; new mail is found by polling", self._prefix())
            return False
        spare = [probe]

        def first_open() -> Mailbox:
            return spare.pop() if spare else self._open_mailbox()

        for index, folder in enumerate(self._folders):
            opener = first_open if index == 0 else self._open_mailbox
            name = f"{self._name} {folder}" if self._name else folder
            self._watchers[folder] = FolderWatcher(opener, folder, self._on_change, name=name, **self._options)
        for watcher in self._watchers.values():
            watcher.start()
        return True

    def stop(self, timeout: float = 5.0) -> None:
        """Stop every watcher; they wind down in parallel, so this takes about as long as one."""
        for watcher in self._watchers.values():
            watcher._request_stop()
        deadline = time.monotonic() + timeout
        for watcher in self._watchers.values():
            watcher.stop(timeout=max(deadline - time.monotonic(), 0.0))

    def states(self) -> dict[str, str]:
        """Folder -> watcher state; empty before start() (or when start() returned False)."""
        return {folder: watcher.state for folder, watcher in self._watchers.items()}

    def _prefix(self) -> str:
        return f"{self._name}: " if self._name else ""

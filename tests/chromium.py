"""A real headless Chromium (Debian's ``chromium``) that lays a page out at a phone's width, for the tests.

Why the DevTools protocol and not ``--dump-dom --window-size=390,...``: headless Chromium clamps its window to
at least 500 px wide and says nothing, so a page "measured at 390 px" that way is laid out at 500 px (its
``innerWidth`` is 500) and a ``--screenshot`` of it is the left 390 px of a 500 px layout: an overflow of up to
110 px would pass unseen and look cut off in the image. ``Emulation.setDeviceMetricsOverride`` has no such floor.
The protocol runs over a pipe (``--remote-debugging-pipe``: file descriptors 3 and 4, JSON messages ended by a
NUL byte), so no debugging port is opened, and JSON is read with the standard library.

The tab is emulated as a phone (``mobile``): like a real one it zooms out of a page wider than the screen, which
the layout report shows (``innerWidth`` above the width, ``zoom`` below 1).

Nothing may leave the machine: the browser runs in an empty network namespace (``unshare -n``) when it can (as
root), every background service that phones home is switched off by flag, every host name but 127.0.0.1
resolves to nothing (``--host-resolver-rules``), and the pages given are local files. Every call has a deadline:
a hung browser is killed (its whole process group) and the test fails with what it printed, instead of hanging
the suite.
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

#: How long one protocol call (a page load, a measurement, a screenshot) may take on a loaded machine.
CALL_TIMEOUT = 60.0

#: Chromium's background services that would reach out to the network, each switched off, plus no profile
#: state worth keeping. ``--no-sandbox``: the suite runs as root in CI, where Chromium's sandbox refuses to
#: start; ``--disable-dev-shm-usage``: a container's 64 MB /dev/shm crashes the renderer on a long page. The
#: Debian wrapper adds ``--disable-background-networking`` too; stated here so the list does not depend on it.
QUIET_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio",
    "--no-first-run", "--no-default-browser-check", "--no-pings", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-default-apps", "--disable-extensions",
    "--disable-domain-reliability", "--disable-client-side-phishing-detection", "--disable-breakpad",
    "--disable-crash-reporter", "--metrics-recording-only", "--safebrowsing-disable-auto-update",
    "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication,"
    "CertificateTransparencyComponentUpdater,InterestFeedContentSuggestions,SafeBrowsing",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
)

#: The fix a developer needs when the browser is missing (the tests say it when they skip).
INSTALL_HINT = "install Debian's chromium (apt-get install chromium; scripts/test does it)"


def chromium_binary() -> str | None:
    """The ``chromium`` command, or None when it is not installed."""
    return shutil.which("chromium")


def can_isolate_network() -> bool:
    """True when ``unshare -n`` works here (root, or user namespaces allowed): the browser gets no network."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return False
    try:
        return subprocess.run([unshare, "-n", "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


class BrowserError(Exception):
    """The browser failed, hung or answered with an error (test infrastructure, not followupd)."""


class Page:
    """One tab of a running browser, spoken to over the DevTools pipe."""

    def __init__(self, process: subprocess.Popen[bytes], send_fd: int, recv_fd: int, stderr: Path) -> None:
        self._process = process
        self._send_fd = send_fd
        self._recv_fd = recv_fd
        self._stderr = stderr
        self._buffer = b""
        self._next_id = 0
        self._session: str | None = None
        self._events: list[dict[str, Any]] = []

    # -- the wire ---------------------------------------------------------------------------------------------
    def _fail(self, why: str) -> BrowserError:
        tail = self._stderr.read_text(errors="replace")[-2000:] if self._stderr.exists() else ""
        return BrowserError(f"{why}; chromium's stderr ends with:\n{tail}")

    def _read_message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise self._fail(f"no answer from chromium within {CALL_TIMEOUT:.0f} s")
            ready, _, _ = select.select([self._recv_fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(self._recv_fd, 1 << 20)
            if not chunk:
                raise self._fail(f"chromium closed its pipe (exit status {self._process.poll()})")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        message: dict[str, Any] = json.loads(raw)
        return message

    def call(self, method: str, params: dict[str, Any] | None = None, *, browser: bool = False) -> dict[str, Any]:
        """Send one command (to the tab, or to the browser itself) and return its result."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if not browser and self._session is not None:
            message["sessionId"] = self._session
        try:
            os.write(self._send_fd, json.dumps(message).encode() + b"\0")
        except BrokenPipeError as exc:  # the browser died before reading: the same error as a closed answer pipe
            raise self._fail(f"chromium closed its pipe before {method} (exit status {self._process.poll()})") from exc
        deadline = time.monotonic() + CALL_TIMEOUT
        while True:
            answer = self._read_message(deadline)
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise self._fail(f"{method} failed: {answer['error']}")
                result: dict[str, Any] = answer.get("result", {})
                return result
            if "method" in answer:
                self._events.append(answer)

    def _wait_event(self, method: str) -> dict[str, Any]:
        deadline = time.monotonic() + CALL_TIMEOUT
        while True:
            for n, event in enumerate(self._events):
                if event["method"] == method:
                    del self._events[: n + 1]
                    return event
            self._events.append(self._read_message(deadline))

    # -- what the tests use -----------------------------------------------------------------------------------
    def open_tab(self, width: int, height: int) -> None:
        target = self.call("Target.createTarget", {"url": "about:blank"}, browser=True)
        attached = self.call("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True},
                             browser=True)
        self._session = attached["sessionId"]
        self.call("Page.enable")
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": True})

    def load(self, path: Path) -> None:
        """Show a local file and wait until it has loaded (its ``load`` event)."""
        self._events.clear()
        answer = self.call("Page.navigate", {"url": path.resolve().as_uri()})
        if answer.get("errorText"):
            raise self._fail(f"could not open {path}: {answer['errorText']}")
        self._wait_event("Page.loadEventFired")

    def evaluate(self, expression: str, *, wait: bool = False) -> Any:
        """The value of a JavaScript expression in the page (JSON-like values only); ``wait``: of the promise it
        returns, once settled."""
        answer = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": wait})
        if "exceptionDetails" in answer:
            raise self._fail(f"the script raised: {answer['exceptionDetails']}")
        return answer["result"].get("value")

    def screenshot(self, width: int) -> bytes:
        """A PNG of the whole page (not only the first screenful) at ``width`` CSS pixels, one pixel each."""
        import base64

        height = int(self.evaluate("Math.ceil(document.documentElement.scrollHeight)"))
        shot = self.call("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}})
        return base64.b64decode(shot["data"])


def _high_pipe() -> tuple[int, int]:
    """A pipe whose ends are numbered 10 or above, so moving them onto 3 and 4 in the child never closes one."""
    ends = []
    for fd in os.pipe():
        ends.append(fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10))
        os.close(fd)
    return ends[0], ends[1]


@contextmanager
def browser(width: int = 390, height: int = 800) -> Iterator[Page]:
    """A headless Chromium with one tab laid out at ``width`` x ``height`` CSS pixels, closed on exit."""
    binary = chromium_binary()
    if binary is None:
        raise BrowserError(f"chromium is not installed: {INSTALL_HINT}")
    with tempfile.TemporaryDirectory(prefix="followupd-chromium-") as tmp:
        profile, stderr = Path(tmp) / "profile", Path(tmp) / "stderr.txt"
        command = [binary, *QUIET_FLAGS, f"--user-data-dir={profile}", "--remote-debugging-pipe",
                   "about:blank"]
        if can_isolate_network():
            command = ["unshare", "-n", *command]
        to_browser_r, to_browser_w = _high_pipe()
        from_browser_r, from_browser_w = _high_pipe()
        # The browser reads commands on fd 3 and answers on fd 4: bash (dash takes no fd above 9) puts the ends there.
        shell = f'exec "$@" 3<&{to_browser_r} 4>&{from_browser_w} {to_browser_r}<&- {from_browser_w}>&-'
        with stderr.open("wb") as err:
            process = subprocess.Popen(["bash", "-c", shell, "bash", *command], stdin=subprocess.DEVNULL,
                                       stdout=err, stderr=err, pass_fds=(to_browser_r, from_browser_w),
                                       start_new_session=True, env={**os.environ, "HOME": tmp})
        os.close(to_browser_r)
        os.close(from_browser_w)
        page = Page(process, to_browser_w, from_browser_r, stderr)
        try:
            page.open_tab(width, height)
            yield page
        finally:
            try:
                page.call("Browser.close", browser=True)
                process.wait(timeout=CALL_TIMEOUT)
            except (BrowserError, OSError, subprocess.TimeoutExpired):
                pass
            with suppress(ProcessLookupError):  # a hung browser, and any helper process it left behind
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            os.close(to_browser_w)
            os.close(from_browser_r)


#: Measures the page as laid out: what sticks out of the viewport (elements and the text in them), what a box
#: with hidden overflow cuts off, numbers and dates broken over two lines, each heading and whether a reader can see it,
#: and anything that is an image or was loaded besides the page itself. Returns plain JSON; the tests decide
#: what is wrong.
_LAYOUT_REPORT = r"""
(() => {
  const doc = document.documentElement;
  const vw = doc.clientWidth;  // the layout viewport: innerWidth grows when a phone zooms out of a wide page
  const what = (el) => el.tagName.toLowerCase() + ': ' + (el.textContent || '').trim().slice(0, 60);
  const beyond = [], clipped = [], split = [];
  const DATE = /\b(Mon|Tue|Wed|Thu|Fri|Sat|Sun)\s[0-3][0-9]\s(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\b/g;
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    if (r.right > vw + 0.5 || r.left < -0.5) beyond.push({what: what(el), left: r.left, right: r.right});
    const s = getComputedStyle(el);
    const cuts = [s.overflowX, s.overflowY].some(v => v === 'hidden' || v === 'clip')
      || s.textOverflow === 'ellipsis' || (s.webkitLineClamp && s.webkitLineClamp !== 'none');
    if (cuts && el.textContent.trim()
        && (el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1)) {
      clipped.push({what: what(el), scrollWidth: el.scrollWidth, clientWidth: el.clientWidth,
                    scrollHeight: el.scrollHeight, clientHeight: el.clientHeight});
    }
  }
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const range = document.createRange();
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (!node.textContent.trim()) continue;
    range.selectNodeContents(node);
    const rects = Array.from(range.getClientRects());
    const lines = (rs) => new Set(Array.from(rs).map(r => Math.round(r.top))).size;
    if (/^[0-9][0-9.,]*$/.test(node.textContent.trim()) && lines(rects) > 1) {
      split.push(node.textContent.trim());  // a count shown as "999" over "99": no longer the number it was
    }
    for (const m of node.textContent.matchAll(DATE)) {  // "Wed 02" at a line's end and "Dec" on the next
      const part = document.createRange();
      part.setStart(node, m.index);
      part.setEnd(node, m.index + m[0].length);
      if (lines(part.getClientRects()) > 1) split.push(m[0]);
    }
    for (const r of rects) {
      if (r.right > vw + 0.5 || r.left < -0.5) {
        beyond.push({what: 'text: ' + node.textContent.trim().slice(0, 60), left: r.left, right: r.right});
        break;
      }
    }
  }
  const headings = [];
  for (const h of document.querySelectorAll('h1, h2, h3, h4, h5, h6')) {
    h.scrollIntoView({block: 'center'});
    const r = h.getBoundingClientRect(), s = getComputedStyle(h);
    const hit = document.elementFromPoint(r.left + Math.min(r.width, 20) / 2, r.top + r.height / 2);
    headings.push({text: h.textContent.trim(),
                   visible: r.width > 0 && r.height > 0 && s.display !== 'none' && s.visibility === 'visible'
                            && parseFloat(s.opacity) > 0 && r.left >= 0 && r.right <= vw + 0.5
                            && parseFloat(s.fontSize) >= 12 && hit !== null && (hit === h || h.contains(hit))});
  }
  window.scrollTo(0, 0);
  const images = Array.from(document.querySelectorAll(
      'img, picture, svg, canvas, video, audio, object, embed, iframe, image, input[type=image]')).map(what);
  for (const el of document.querySelectorAll('*')) {
    const bg = getComputedStyle(el).backgroundImage;
    if (bg && bg !== 'none') images.push(what(el) + ' (background ' + bg.slice(0, 40) + ')');
  }
  return {width: vw, innerWidth: window.innerWidth, zoom: window.visualViewport.scale,
          scrollWidth: Math.max(doc.scrollWidth, document.body.scrollWidth),
          beyond: beyond.slice(0, 20), clipped: clipped.slice(0, 20), split, headings, images,
          loaded: performance.getEntriesByType('resource').map(e => e.name)};
})()
"""


def layout_report(page: Page) -> dict[str, Any]:
    """What :data:`_LAYOUT_REPORT` found on the page shown now."""
    report = page.evaluate(_LAYOUT_REPORT)
    if not isinstance(report, dict):
        raise BrowserError(f"the layout report is not an object: {report!r}")
    return report

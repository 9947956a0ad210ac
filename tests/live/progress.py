"""What the live suite is doing while it waits, shown on the terminal even without `-s`.

Starting the scenario stacks and waiting out rendered alert timings take tens of seconds each; a silent
pytest looks hung, in CI logs too. Lines go through pytest's terminal reporter with output capture
suspended for the moment, as pytest's own live logging does (`sys.__stderr__` would not do: with
`--capture=fd` file descriptor 2 itself is captured). Stacks start in threads, so writes take a lock.

Short waits stay quiet: a wait is announced once it has lasted ANNOUNCE_AFTER seconds, with what it
waits for and its limit, and then its end. Without pytest (bench/, a REPL) nothing is written.
"""

from __future__ import annotations

import threading
import time
from contextlib import nullcontext

ANNOUNCE_AFTER = 5.0  # seconds

_lock = threading.Lock()
_config = None
_started = time.monotonic()


def attach(config) -> None:
    """Write through this pytest config's terminal reporter from now on (tests/live/conftest.py)."""
    global _config, _started
    _config, _started = config, time.monotonic()


def say(message: str) -> None:
    config = _config
    reporter = config.pluginmanager.get_plugin("terminalreporter") if config is not None else None
    if reporter is None:
        return
    capture = config.pluginmanager.get_plugin("capturemanager")
    with _lock, capture.global_and_fixture_disabled() if capture is not None else nullcontext():
        reporter.ensure_newline()  # after a test file's name and its results
        writer = config.get_terminal_writer()
        if writer.width_of_current_line:  # after `-q` progress dots, which ensure_newline does not see
            writer.line()
        reporter.write_line(f"[live {time.monotonic() - _started:6.1f}s] {message}")


class Wait:
    """One bounded wait: `tick()` on every attempt announces it once it has lasted ANNOUNCE_AFTER
    seconds; `done()` reports its end if it was announced."""

    def __init__(self, what: str, timeout: float) -> None:
        self.what, self.timeout = what, timeout
        self.start = time.monotonic()
        self.announced = False

    def tick(self) -> None:
        if not self.announced and time.monotonic() - self.start >= ANNOUNCE_AFTER:
            self.announced = True
            say(f"waiting for {self.what} (up to {self.timeout:.0f}s)")

    def done(self, reached: bool = True) -> None:
        if self.announced:
            outcome = "reached" if reached else "NOT reached"
            say(f"{self.what}: {outcome} after {time.monotonic() - self.start:.1f}s")


def sleep(seconds: float, why: str) -> None:
    """time.sleep that says why when it is long."""
    if seconds >= ANNOUNCE_AFTER:
        say(f"sleeping {seconds:.0f}s: {why}")
    if seconds > 0:
        time.sleep(seconds)

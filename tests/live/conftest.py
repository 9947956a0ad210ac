"""Fixtures of the live tests: the livetest stack, rendered once, run as real processes per scenario.

Each scenario gets its own stack (its own 127.0.<n>.0/24, processes, simulator and sink), so one
scenario's faults never show up in another's notifications. Scenarios that must wait out the
rendered Alertmanager timings (a resolve waits for the route's group_interval, 5m for pages) start
their stack and inject their fault before the first live test runs, and their tests run last: their
waits then overlap the other scenarios instead of adding up. Only the scenarios of the selected tests
are started, so `-m "live and not slow"` starts what the quick tests need.
"""
from __future__ import annotations

import os
import time
from typing import Callable, Iterator

import pytest

from tests.live.clients import wait_until
from tests.live.deployment import Deployment, deploy
from tests.live.netns import PrivateNetwork, interfaces
from tests.live.stack import LiveStack, missing_tools
from tests.live.timings import RenderedTimings, patience

# Third octet of each scenario's loopback block (127.0.<n>.0/24).
STACK_INDEX = {"main": 41, "api_down": 42, "error_burst": 43, "flood": 44}
# Scenarios started before the first live test (see the module docstring), in start order.
EARLY = ("api_down_stack", "error_burst_stack", "flood_stack")
# Their test modules run after every other live test.
LONG_WAIT_MODULES = ("test_api_down", "test_error_burst", "test_sample_limit")


def pytest_collection_modifyitems(config, items):
    def rank(item) -> int:
        module = item.module.__name__.rsplit(".", 1)[-1] if item.module else ""
        return LONG_WAIT_MODULES.index(module) + 1 if module in LONG_WAIT_MODULES else 0

    live = [item for item in items if item.get_closest_marker("live") and "tests/live/" in str(item.fspath)]
    if live:
        first = items.index(live[0])
        ordered = sorted(live, key=rank)  # stable: file order inside each rank
        rest = [item for item in items if item not in live]
        items[:] = rest[:first] + ordered + rest[first:]


@pytest.fixture(scope="session")
def live_network() -> Iterator[None]:
    """Every live process runs in a private network namespace with loopback only (tests/live/netns.py)."""
    if os.geteuid() != 0:
        pytest.fail("the live tests need root (mount and network namespaces): CI runs them as root")
    missing = missing_tools()
    if missing:
        pytest.fail(f"the live tests need {', '.join(missing)}: run scripts/setup.sh")
    network = PrivateNetwork().enter()
    assert interfaces() == ["lo"], interfaces()
    yield
    network.leave()


@pytest.fixture(scope="session")
def live_deployment(live_network) -> Deployment:
    """The livetest stack as the program would deploy it (tests/live/deployment.py)."""
    return deploy()


@pytest.fixture(scope="session")
def timings(live_deployment) -> RenderedTimings:
    return RenderedTimings(live_deployment.result.files)


def _running_stack(name: str, deployment: Deployment, tmp_path_factory) -> LiveStack:
    stack = LiveStack(deployment, tmp_path_factory.mktemp(f"live-{name}"), STACK_INDEX[name])
    try:
        stack.start()
        # Prometheus hands new targets to its scrapers up to 5 s after start (discovery batching).
        scrape = RenderedTimings(deployment.result.files).scrape_interval
        wait_until(lambda: stack.prometheus.value('up{job="ngx-api"}') == 1, patience(scrape + 5),
                   what=f"{name}: first scrape of the simulated API")
    except BaseException:
        stack.close()
        raise
    return stack


@pytest.fixture(scope="session")
def start_stack(live_deployment, tmp_path_factory) -> Iterator[Callable[[str], LiveStack]]:
    started: list[LiveStack] = []

    def start(name: str) -> LiveStack:
        stack = _running_stack(name, live_deployment, tmp_path_factory)
        started.append(stack)
        return stack

    yield start
    for stack in reversed(started):
        stack.close()


@pytest.fixture(scope="session")
def main_stack(start_stack) -> LiveStack:
    """A healthy stack for the scenarios that do not wait for alert timings (access, restarts, reload)."""
    return start_stack("main")


@pytest.fixture(scope="session")
def api_down_stack(start_stack) -> LiveStack:
    """Scenario 2: the simulated API stops (stack.fault_at) once Prometheus has scraped it."""
    stack = start_stack("api_down")
    stack.fault_at = time.time()
    stack.simulator.set_mode("stopped")
    return stack


@pytest.fixture(scope="session")
def error_burst_stack(start_stack) -> LiveStack:
    """Scenario 3: half of the API's requests fail (and are slow) from stack.fault_at on."""
    stack = start_stack("error_burst")
    stack.fault_at = time.time()
    stack.simulator.set_mode("error_burst")
    return stack


@pytest.fixture(scope="session")
def flood_stack(start_stack) -> LiveStack:
    """Scenario 5: the API exposes more series than sample_limit from stack.fault_at on."""
    stack = start_stack("flood")
    stack.fault_at = time.time()
    stack.simulator.set_mode("flood")
    return stack


@pytest.fixture(scope="session", autouse=True)
def _start_long_scenarios_early(request) -> None:
    selected = {name for item in request.session.items for name in getattr(item, "fixturenames", ())}
    for name in EARLY:
        if name in selected:
            request.getfixturevalue(name)

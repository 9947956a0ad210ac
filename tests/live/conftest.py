"""Fixtures of the live tests: the livetest stack, rendered once, run as real processes per scenario.

The fixtures are package-scoped: the stacks stop, and the process leaves the private network
namespace, as soon as the last test of tests/live has run, not at the end of the whole session.

Each scenario gets its own stack (its own 127.0.<n>.0/24, processes, simulator and sink), so one
scenario's faults never show up in another's notifications. The stacks of every selected scenario
start side by side, and inject their fault, before the first live test runs; the scenarios that must
wait out the rendered alert timings (a `for`, a route's group_wait, a resolve at the route's next
group_interval tick; the livetest stack shortens them all to seconds) run their tests last, so their
waits overlap the other scenarios instead of adding up. Only the scenarios of the selected tests are
started: `-m "live and not slow"` starts what the quick tests need. Start-up and long waits are
reported as they happen (tests/live/progress.py).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator

import pytest

from tests.live import progress
from tests.live.clients import wait_until
from tests.live.deployment import REMOTE_WRITE_CONFIG, REMOTE_WRITE_SECRETS, Deployment, deploy
from tests.live.netns import PrivateNetwork, interfaces
from tests.live.stack import LiveStack, missing_tools
from tests.live.timings import RenderedTimings, patience

# Third octet of each scenario's loopback block (127.0.<n>.0/24).
STACK_INDEX = {"main": 41, "api_down": 42, "error_burst": 43, "flood": 44, "remote_write": 45}
# Every scenario's fixture; those the selected tests use start together before the first live test.
SCENARIO_FIXTURES = ("api_down_stack", "error_burst_stack", "flood_stack", "remote_write_stack", "main_stack")
# Their test modules run after every other live test.
LONG_WAIT_MODULES = ("test_api_down", "test_error_burst", "test_sample_limit", "test_remote_write")


def pytest_configure(config):
    progress.attach(config)


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


@pytest.fixture(scope="package")
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


@pytest.fixture(scope="package")
def live_deployment(live_network) -> Deployment:
    """The livetest stack as the program would deploy it (tests/live/deployment.py)."""
    progress.say("synthesising the livetest stack")
    return deploy()


@pytest.fixture(scope="package")
def timings(live_deployment) -> RenderedTimings:
    return RenderedTimings(live_deployment.result.files)


class Scenarios:
    """The scenario stacks of this session: started on demand, or several at once (in threads)."""

    # What each scenario does once Prometheus has scraped its API: the fault it injects (a simulator mode).
    FAULTS = {"main": None, "api_down": "stopped", "error_burst": "error_burst", "flood": "flood", "remote_write": None}
    # Scenarios that run livetest with more settings (REMOTE_WRITE_CONFIG: one store), synthesised apart.
    OWN_DEPLOYMENTS = {"remote_write": (REMOTE_WRITE_CONFIG, REMOTE_WRITE_SECRETS)}

    def __init__(self, deployment: Deployment, tmp_path_factory) -> None:
        self.deployment = deployment
        self.tmp_path_factory = tmp_path_factory
        self.timings = RenderedTimings(deployment.result.files)
        self.stacks: dict[str, LiveStack] = {}
        self.deployments: dict[str, Deployment] = {}

    def deployment_of(self, name: str) -> Deployment:
        """The scenario's deployment; synthesised in the calling (main) thread, where Pulumi's mocks run."""
        if name not in self.OWN_DEPLOYMENTS:
            return self.deployment
        if name not in self.deployments:
            progress.say(f"synthesising the livetest stack for scenario {name}")
            config, secrets = self.OWN_DEPLOYMENTS[name]
            self.deployments[name] = deploy(config=list(config), secrets=secrets)
        return self.deployments[name]

    def _prepare(self, name: str, workdir) -> LiveStack:
        stack = LiveStack(self.deployment_of(name), workdir, STACK_INDEX[name], name)
        began = time.monotonic()
        try:
            stack.start()
            progress.say(f"{name}: {len(stack.processes)} services ready after {time.monotonic() - began:.1f}s")
            # Prometheus hands new targets to its scrapers up to 5 s after start (discovery batching).
            wait_until(
                lambda: stack.prometheus.value('up{job="ngx-api"}') == 1,
                patience(self.timings.scrape_interval + 5),
                what=f"{name}: first scrape of the simulated API",
            )
            stack.fault_at = time.time()
            if self.FAULTS[name]:
                stack.simulator.set_mode(self.FAULTS[name])
            fault = f"fault {self.FAULTS[name]!r} injected" if self.FAULTS[name] else "healthy"
            progress.say(f"{name}: API scraped, {fault} after {time.monotonic() - began:.1f}s")
        except BaseException:
            stack.close()
            raise
        return stack

    def start(self, names: list[str]) -> None:
        """Start the named scenarios side by side; raises the first failure after all have finished."""
        wanted = [name for name in names if name not in self.stacks]
        workdirs = {name: self.tmp_path_factory.mktemp(f"live-{name}") for name in wanted}
        for name in wanted:
            self.deployment_of(name)
        errors: dict[str, BaseException] = {}

        def run(name: str) -> None:
            try:
                self.stacks[name] = self._prepare(name, workdirs[name])
            except BaseException as error:  # noqa: BLE001 - re-raised below, in the test's thread
                errors[name] = error

        if wanted:
            progress.say(f"starting scenario stacks {', '.join(wanted)} side by side")
        threads = [threading.Thread(target=run, args=(name,), name=f"start-{name}") for name in wanted]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=180)
        if errors:
            name, error = next(iter(errors.items()))
            raise RuntimeError(f"scenario {name} did not start: {error}") from error

    def get(self, name: str) -> LiveStack:
        self.start([name])
        return self.stacks[name]

    def close(self) -> None:
        if self.stacks:
            progress.say(f"stopping scenario stacks {', '.join(self.stacks)}")
        for stack in reversed(list(self.stacks.values())):
            stack.close()


@pytest.fixture(scope="package")
def scenarios(live_deployment, tmp_path_factory) -> Iterator[Scenarios]:
    registry = Scenarios(live_deployment, tmp_path_factory)
    yield registry
    registry.close()


@pytest.fixture(scope="package")
def main_stack(scenarios) -> LiveStack:
    """A healthy stack for the scenarios that do not wait for alert timings (access, restarts, reload)."""
    return scenarios.get("main")


@pytest.fixture(scope="package")
def api_down_stack(scenarios) -> LiveStack:
    """Scenario 2: the simulated API stopped at stack.fault_at, once Prometheus had scraped it."""
    return scenarios.get("api_down")


@pytest.fixture(scope="package")
def error_burst_stack(scenarios) -> LiveStack:
    """Scenario 3: half of the API's requests fail (and are slow) from stack.fault_at on."""
    return scenarios.get("error_burst")


@pytest.fixture(scope="package")
def flood_stack(scenarios) -> LiveStack:
    """Scenario 5: the API exposes more series than sample_limit from stack.fault_at on."""
    return scenarios.get("flood")


@pytest.fixture(scope="package")
def remote_write_stack(scenarios) -> LiveStack:
    """Scenario 6: livetest writing to a second Prometheus, the remote-write receiver (stack.remote_receiver)."""
    return scenarios.get("remote_write")


@pytest.fixture(scope="package", autouse=True)
def _start_scenarios_early(request) -> None:
    """Start every scenario the selected tests use, side by side, before the first live test."""
    selected = {name for item in request.session.items for name in getattr(item, "fixturenames", ())}
    wanted = [name.removesuffix("_stack") for name in SCENARIO_FIXTURES if name in selected]
    if wanted:
        request.getfixturevalue("scenarios").start(wanted)

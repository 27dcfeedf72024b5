import os

import pytest
import time_machine
from hypothesis import settings as hypothesis_settings

from tests.factories import NOW

# CI (and .ci/run) replays the same generated examples on every run (a failure there
# reproduces from its log, never a roll of the dice); elsewhere each run explores new ones.
hypothesis_settings.register_profile("ci", derandomize=True)
if os.environ.get("CI") or os.environ.get("FLEETPOST_REQUIRE_COMPONENTS"):
    hypothesis_settings.load_profile("ci")


@pytest.fixture(autouse=True)
def _video_root(settings, tmp_path):
    settings.VIDEO_ROOT = tmp_path / "videos"
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _clock(request):
    """Unit tests start at a fixed moment (tests of real processes keep the real clock)."""
    if request.node.get_closest_marker("processes"):
        yield None
        return
    with time_machine.travel(NOW, tick=True) as traveller:
        yield traveller


@pytest.fixture
def clock(_clock):
    """The travelling clock, for tests that move time: `clock.shift(timedelta(...))`."""
    return _clock


def require_component(reason: str | None) -> None:
    """Skip a test whose component is missing, or fail under FLEETPOST_REQUIRE_COMPONENTS."""
    if reason is None:
        return
    if os.environ.get("FLEETPOST_REQUIRE_COMPONENTS") == "1":
        pytest.fail(f"required component missing: {reason}")
    pytest.skip(reason)


# Fixtures that start an external component, and the marker each one's tests carry, so
# `-m "not appium"`, `-m "not browser"` or `-m "not processes"` leaves them out.
COMPONENT_MARKERS = {
    "appium_server": "appium",
    "own_appium_server": "appium",
    "browser": "browser",
    # PostgreSQL and Redis servers, driven through manage.py processes
    "scaleout_servers": "processes",
}


def pytest_collection_modifyitems(config, items) -> None:
    """A test that uses a component's fixture carries that component's marker."""
    for item in items:
        for fixture, marker in COMPONENT_MARKERS.items():
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(marker)


@pytest.fixture(scope="session")
def appium_server(tmp_path_factory):
    """A real Appium server with the fake driver, for the whole test session."""
    from fleetlab.appium_server import AppiumServer, missing_reason

    require_component(missing_reason())
    server = AppiumServer(tmp_path_factory.mktemp("appium") / "appium.log").start()
    yield server
    server.stop()


@pytest.fixture
def own_appium_server(tmp_path):
    """An Appium server of this test's own, for a test that stops it."""
    from fleetlab.appium_server import AppiumServer, missing_reason

    require_component(missing_reason())
    server = AppiumServer(tmp_path / "appium.log").start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def scaleout_servers():
    """Throw-away PostgreSQL and Redis servers on loopback for the whole session."""
    from fleetlab.services import Postgres, Redis, missing_reason

    require_component(missing_reason())
    postgres, redis = Postgres().start(), Redis().start()
    yield postgres, redis
    redis.stop()
    postgres.stop()


@pytest.fixture
def scaleout_env(scaleout_servers) -> dict[str, str]:
    """DATABASE_URL (a fresh database) and REDIS_URL (flushed) for one test's processes."""
    postgres, redis = scaleout_servers
    redis.flush()
    return {"DATABASE_URL": postgres.create_database(), "REDIS_URL": redis.url()}


@pytest.fixture(params=["sqlite-orm", "postgres-redis"])
def backend_env(request) -> dict[str, str]:
    """Run a real-process test on the embedded default and on the scale-out configuration."""
    if request.param == "sqlite-orm":
        return {}
    return request.getfixturevalue("scaleout_env")

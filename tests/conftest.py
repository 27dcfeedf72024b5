import pytest
import time_machine

from tests.factories import NOW


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

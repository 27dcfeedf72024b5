"""Every external component comes from a gated fixture, and its tests carry its marker."""

import re
from pathlib import Path

from tests.conftest import COMPONENT_MARKERS

TESTS = Path(__file__).parent


def test_the_component_markers_are_registered(pytestconfig):
    registered = {line.split(":")[0].strip() for line in pytestconfig.getini("markers")}
    assert {"appium", "browser"} <= registered


def test_every_collected_test_that_uses_a_component_carries_its_marker(request):
    for item in request.session.items:
        for fixture, marker in COMPONENT_MARKERS.items():
            if fixture in getattr(item, "fixturenames", ()):
                assert item.get_closest_marker(marker), f"{item.nodeid} lacks @{marker}"


def test_no_test_starts_a_component_outside_the_gated_fixtures():
    starts = re.compile(r"\b(AppiumServer|Postgres|Redis)\(")
    offenders = [
        path.name
        for path in TESTS.glob("test_*.py")
        if starts.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []

import pytest


@pytest.fixture(autouse=True)
def _video_root(settings, tmp_path):
    settings.VIDEO_ROOT = tmp_path / "videos"
    settings.MEDIA_ROOT = tmp_path / "media"

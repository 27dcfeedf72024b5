"""Views outside the admin's own pages."""

from django.contrib.auth.decorators import permission_required
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404

from posting.models import Attempt

EVIDENCE_TYPES = {"screenshot": "image/png", "page_source": "text/xml; charset=utf-8"}


@permission_required("posting.view_attempt", raise_exception=True)
def attempt_evidence(request, pk: int, kind: str) -> FileResponse:
    """An attempt's screenshot or page source, for people who may see attempts."""
    if kind not in EVIDENCE_TYPES:
        raise Http404("no such evidence")
    attempt = get_object_or_404(Attempt, pk=pk)
    name = getattr(attempt, kind).name
    if not name or not default_storage.exists(name):
        raise Http404("this attempt kept no such file")
    return FileResponse(default_storage.open(name), content_type=EVIDENCE_TYPES[kind])

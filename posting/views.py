"""Views outside the admin's own pages."""

from django.contrib import admin
from django.contrib.auth.decorators import login_required, permission_required
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from devices.models import Device, FlowTrial
from posting.dashboard import dashboard_data
from posting.models import Attempt, FleetControl
from posting.wakeups import wake_devices

# Evidence comes from the phone (or a compromised phone or Appium server): a page source may be
# XHTML with script. It is served as plain text, never sniffed, in a sandbox with no scripts,
# so no browser runs it on the console's origin.
EVIDENCE_TYPES = {
    "screenshot": "image/png",
    "page_source": "text/plain; charset=utf-8",
    "logcat": "text/plain; charset=utf-8",
}
EVIDENCE_EXTENSIONS = {"screenshot": "png", "page_source": "xml", "logcat": "txt"}
EVIDENCE_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"


@permission_required("posting.view_attempt", raise_exception=True)
def attempt_evidence(request, pk: int, kind: str) -> FileResponse:
    """An attempt's screenshot or page source, for people who may see attempts."""
    if kind not in EVIDENCE_TYPES:
        raise Http404("no such evidence")
    attempt = get_object_or_404(Attempt, pk=pk)
    name = getattr(attempt, kind).name
    if not name or not default_storage.exists(name):
        raise Http404("this attempt kept no such file")
    response = FileResponse(
        default_storage.open(name),
        content_type=EVIDENCE_TYPES[kind],
        as_attachment=request.GET.get("download") == "1",
        filename=f"attempt-{attempt.pk}-{kind}.{EVIDENCE_EXTENSIONS[kind]}",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = EVIDENCE_CSP
    return response


@permission_required("devices.view_device", raise_exception=True)
def flow_trial_file(request, pk: int, step: int, kind: str) -> FileResponse:
    """A flow trial's screenshot (inline) or page source (a download, never run by the
    browser on this origin: a page source may be a WebView's XHTML)."""
    if kind not in ("screenshot", "page_source"):
        raise Http404("no such file")
    trial = get_object_or_404(FlowTrial, pk=pk)
    row = next((r for r in trial.steps if r["number"] == step), None)
    name = (row or {}).get(kind)
    if not name or not default_storage.exists(name):
        raise Http404("this step kept no such file")
    if kind == "screenshot":
        response = FileResponse(default_storage.open(name), content_type="image/png")
    else:
        response = FileResponse(
            default_storage.open(name),
            as_attachment=True,
            filename=f"trial-{pk}-step-{step}.xml",
            content_type="application/octet-stream",
        )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = EVIDENCE_CSP
    return response


# Job ids, errors and devices are for people who may see jobs (Operators and Viewers).
@login_required
@permission_required("posting.view_job", raise_exception=True)
def dashboard(request) -> TemplateResponse:
    """The run at a glance; refreshes itself from `dashboard_json`."""
    context = {
        **admin.site.each_context(request),
        "title": "Dashboard",
        "data": dashboard_data(timezone.now()),
        "can_pause": request.user.has_perm("devices.manage_devices"),
    }
    return TemplateResponse(request, "posting/dashboard.html", context)


@login_required
@permission_required("posting.view_job", raise_exception=True)
def dashboard_json(request) -> JsonResponse:
    return JsonResponse(dashboard_data(timezone.now()))


@require_POST
@permission_required("devices.manage_devices", raise_exception=True)
def set_paused(request) -> HttpResponseRedirect:
    """The global pause: no new attempts start anywhere; running ones finish."""
    paused = request.POST.get("paused") == "1"
    if FleetControl.set_paused(paused, now=timezone.now(), user=request.user) and not paused:
        wake_devices(Device.objects.filter(enabled=True).values_list("pk", flat=True))
    return HttpResponseRedirect(reverse("dashboard"))

"""Views outside the admin's own pages."""

from django.contrib import admin, messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from devices.models import Device, FlowTrial
from posting.dashboard import dashboard_data
from posting.models import Attempt, AttemptOutcome, FleetControl
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


@require_http_methods(["GET", "POST"])
@permission_required("devices.manage_devices", raise_exception=True)
def set_paused(request):
    """The global pause: no new attempts start anywhere; running ones finish.

    A GET (or a POST without "confirm") shows what pausing or resuming does, who paused it
    and when; the confirmed POST flips it and records who and when.
    """
    control = FleetControl.objects.select_related("changed_by").filter(pk=1).first()
    currently_paused = bool(control and control.paused)
    if request.method == "GET" or request.POST.get("confirm") != "yes":
        context = {
            **admin.site.each_context(request),
            "title": "Resume the fleet" if currently_paused else "Pause the fleet",
            "paused": currently_paused,
            "control": control,
            "running": Attempt.objects.filter(outcome=AttemptOutcome.RUNNING).count(),
        }
        return TemplateResponse(request, "posting/fleet_pause_confirm.html", context)
    paused = request.POST.get("paused") == "1"
    if FleetControl.set_paused(paused, now=timezone.now(), user=request.user) and not paused:
        wake_devices(Device.objects.filter(enabled=True).values_list("pk", flat=True))
    verb = "paused" if paused else "resumed"
    messages.success(request, f"The fleet is {verb} (by {request.user}).")
    return HttpResponseRedirect(reverse("dashboard"))


FAVICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">'
    '<rect x="7" y="2" width="18" height="28" rx="3" fill="#417690"/>'
    '<rect x="9" y="5" width="14" height="20" fill="#fff"/>'
    '<path d="M13 10v10l8-5z" fill="#417690"/></svg>'
)


def favicon(request) -> HttpResponse:
    """A phone with a play sign; /favicon.ico too, which browsers ask for on their own."""
    response = HttpResponse(FAVICON, content_type="image/svg+xml")
    response["Cache-Control"] = "max-age=86400"
    return response

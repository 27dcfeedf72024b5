"""Import jobs from the admin: upload, read the dry-run report, confirm.

The same validator as `manage.py import_jobs` (posting.csv_import.import_jobs): the upload is
kept in a file under VAR_DIR between the dry run and the confirmation, so the import that
writes reads exactly the bytes the report was made from.
"""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from posting.admin.display import plural
from posting.csv_import import ImportRefused, import_jobs

IMPORT_PERMISSION = "posting.import_jobs"
UPLOAD_MAX_AGE_SECONDS = 24 * 3600
TOKEN = re.compile(r"^[0-9a-f]{32}$")


class ImportForm(forms.Form):
    csv_file = forms.FileField(
        label="Jobs CSV",
        help_text="job_id, account, video_path, caption; optional scheduled_at, priority, "
        "max_attempts, device, platform. Nothing is written until you confirm.",
    )
    update = forms.BooleanField(
        required=False,
        label="Update existing jobs",
        help_text="Change caption, video, schedule, priority and attempts of existing pending "
        "or failed jobs (otherwise a job id that exists is a problem).",
    )


def upload_dir() -> Path:
    path = Path(settings.VAR_DIR) / "admin-imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _forget_old_uploads(folder: Path) -> None:
    cutoff = time.time() - UPLOAD_MAX_AGE_SECONDS
    for old in folder.glob("*.csv"):
        if old.stat().st_mtime < cutoff:
            old.unlink(missing_ok=True)


def import_view(model_admin, request):
    """Upload -> dry-run report (every problem by line and column) -> confirm -> import."""
    if not request.user.has_perm(IMPORT_PERMISSION):
        raise PermissionDenied("you may not import jobs")
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": "Import jobs from CSV",
    }
    if request.method == "POST" and request.POST.get("confirm") == "yes":
        return _confirmed(request, context)
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method != "POST" or not form.is_valid():
        return TemplateResponse(request, "admin/posting/job/import.html", {**context, "form": form})
    folder = upload_dir()
    _forget_old_uploads(folder)
    token = uuid.uuid4().hex
    path = folder / f"{token}.csv"
    with open(path, "wb") as out:
        for chunk in form.cleaned_data["csv_file"].chunks():
            out.write(chunk)
    update = form.cleaned_data["update"]
    name = form.cleaned_data["csv_file"].name
    try:
        summary = import_jobs(str(path), dry_run=True, update=update)
    except ImportRefused as refused:
        path.unlink(missing_ok=True)
        return TemplateResponse(
            request,
            "admin/posting/job/import.html",
            {
                **context,
                "form": ImportForm(),
                "file_name": name,
                "problems": refused.problems,
                "problem_total": refused.total,
                "problem_count_text": plural(refused.total, "problem"),
                "hidden": refused.total - len(refused.problems),
            },
        )
    return TemplateResponse(
        request,
        "admin/posting/job/import.html",
        {
            **context,
            "file_name": name,
            "summary": summary,
            "token": token,
            "update": update,
        },
    )


def _confirmed(request, context: dict):
    token = request.POST.get("token", "")
    path = upload_dir() / f"{token}.csv"
    if not TOKEN.match(token) or not path.is_file():
        messages.error(request, "That upload is gone (imported already, or too old): upload again.")
        return HttpResponseRedirect(reverse("admin:posting_job_import"))
    update = request.POST.get("update") == "1"
    try:
        summary = import_jobs(str(path), update=update)
    except ImportRefused as refused:
        # The database changed since the dry run (a job id taken meanwhile): report again.
        return TemplateResponse(
            request,
            "admin/posting/job/import.html",
            {
                **context,
                "form": ImportForm(),
                "file_name": request.POST.get("file_name", ""),
                "problems": refused.problems,
                "problem_total": refused.total,
                "problem_count_text": plural(refused.total, "problem"),
                "hidden": refused.total - len(refused.problems),
            },
        )
    finally:
        path.unlink(missing_ok=True)
    messages.success(request, f"{str(summary).capitalize()} (by {request.user}).")
    return HttpResponseRedirect(reverse("admin:posting_job_changelist"))

"""The job form: the same rules as the CSV import, so the admin cannot store what it refuses."""

from django import forms

from posting.input_rules import (
    InvalidValue,
    identifier,
    integer_in_column,
    moment_in_range,
    refuse_nul,
    resolve_video_path,
)
from posting.models import Job


class JobForm(forms.ModelForm):
    class Meta:
        model = Job
        fields = [
            "job_id",
            "account",
            "caption",
            "video_path",
            "scheduled_at",
            "priority",
            "max_attempts",
        ]

    def _checked(self, name: str, check):
        value = self.cleaned_data.get(name)
        if value in (None, ""):
            return value
        try:
            return check(value)
        except InvalidValue as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean_job_id(self):
        return self._checked("job_id", lambda v: identifier(refuse_nul(v)))

    def clean_caption(self):
        return self._checked("caption", refuse_nul)

    def clean_video_path(self):
        return self._checked("video_path", lambda v: resolve_video_path(v.strip()))

    def clean_scheduled_at(self):
        return self._checked("scheduled_at", moment_in_range)

    def clean_priority(self):
        field = Job._meta.get_field("priority")
        return self._checked("priority", lambda v: integer_in_column(v, field, -1_000_000))

    def clean_max_attempts(self):
        field = Job._meta.get_field("max_attempts")
        return self._checked("max_attempts", lambda v: integer_in_column(v, field, 1))

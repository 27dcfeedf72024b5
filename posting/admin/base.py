"""What every operator-console admin shares."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied


class GuardedActionsAdmin(admin.ModelAdmin):
    """Posting an action the user may not run is refused with 403.

    Django's admin hides such an action and, when it is posted anyway, answers "no action
    selected" with a redirect; an explicit refusal tells a script or a stale page the truth.
    """

    def changelist_view(self, request, extra_context=None):
        action = request.POST.get("action") if request.method == "POST" else None
        declared = action in self._declared_action_names()
        if declared and action not in self.get_actions(request):
            raise PermissionDenied(f"you may not run {action!r}")
        return super().changelist_view(request, extra_context)

    def _declared_action_names(self) -> set[str]:
        return {a if isinstance(a, str) else a.__name__ for a in self.actions or []}

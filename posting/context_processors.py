"""What every console page shows: the pauses in force (a banner above the page)."""

from django.utils.functional import SimpleLazyObject


def console_pauses(request) -> dict:
    """The fleet's pause and every paused platform and host, read only when a page shows them
    (the admin's base template does, for staff): two small indexed queries."""

    def read() -> dict:
        from posting.dashboard import fleet_pause
        from posting.progress import active_pauses

        return {"fleet": fleet_pause(), "pauses": active_pauses()}

    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_staff:
        return {}
    return {"console_pauses": SimpleLazyObject(read)}

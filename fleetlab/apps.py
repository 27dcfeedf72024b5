from django.apps import AppConfig


class FleetlabConfig(AppConfig):
    """Development tools (the benchmark harness, process helpers for tests).

    Installed only when the DEV_TOOLS setting says so (by default with DEBUG); the product's
    apps never import it.
    """

    name = "fleetlab"
    verbose_name = "Fleetlab (development tools)"

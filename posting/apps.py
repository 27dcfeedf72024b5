from django.apps import AppConfig


class PostingConfig(AppConfig):
    name = "posting"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from posting import checks  # noqa: F401  (registers the system checks)

from django.apps import AppConfig


class LinkTrackingConfig(AppConfig):
    name = "link_tracking_publisher"
    label = "link_tracking"
    verbose_name = "Link tracking"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import (
            checks,  # noqa: F401  (registers the system checks)
            tasks,  # noqa: F401  (registers the tasks dispatch sends by name)
        )

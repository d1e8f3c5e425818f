from django.apps import AppConfig


class LinkTrackingConfig(AppConfig):
    name = "link_tracking_publisher"
    label = "link_tracking"
    verbose_name = "Link tracking"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Imported once the app registry is ready: both import the models, which Django
        # cannot load while it is still importing the apps.
        from . import (
            checks,  # noqa: F401  (registers the system checks)
            tasks,  # noqa: F401  (registers the tasks dispatch sends by name)
        )
        from .clicks.rollups import connect_signals

        connect_signals()

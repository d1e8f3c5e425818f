from django.apps import AppConfig


class LinkTrackingConfig(AppConfig):
    name = "link_tracking_publisher"
    label = "link_tracking"
    verbose_name = "Link tracking"
    default_auto_field = "django.db.models.BigAutoField"

from django.apps import AppConfig


class CrmConfig(AppConfig):
    """A stand-in for the host project's CRM: just enough Account and Campaign to point at."""

    name = "devsite.crm"
    label = "crm"
    default_auto_field = "django.db.models.BigAutoField"

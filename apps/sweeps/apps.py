from django.apps import AppConfig


class SweepsConfig(AppConfig):
    name = "apps.sweeps"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from apps.sweeps import converters

        converters.register()

from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "apps.registry"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from apps.registry import converters

        converters.register()

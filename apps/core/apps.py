from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"

    def ready(self) -> None:
        # URL converters must exist before any URLconf is imported.
        from apps.core import converters

        converters.register()

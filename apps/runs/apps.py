from django.apps import AppConfig


class RunsConfig(AppConfig):
    name = "apps.runs"
    label = "runs"

    def ready(self) -> None:
        # URL converters must exist before any URLconf is imported.
        from apps.runs import converters

        converters.register()

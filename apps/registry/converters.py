"""URL converters of registry routes (see apps/core/converters.py for why not `<str:…>`).

- `artifact_name`: an artifact or registered-model name (apps.registry.names.NAME_RE).
- `model_name`: a registered-model name (names.MODEL_NAME_RE: inner spaces too).
- `artifact_ref`: `v<N>`, an alias or `latest` — the same shape as a name.
- `sha256`: 64 lowercase hex digits.
"""

from __future__ import annotations

from django.urls import register_converter


class ArtifactNameConverter:
    regex = r"[A-Za-z0-9][A-Za-z0-9._\-]{0,127}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value) -> str:
        return str(value)


class ModelNameConverter(ArtifactNameConverter):
    """A registered-model name: an artifact name that may hold single inner spaces
    (names.MODEL_NAME_RE; the path is matched after percent-decoding)."""

    regex = r"[A-Za-z0-9](?:[A-Za-z0-9._\-]| (?! )){0,126}(?<! )"


class Sha256Converter(ArtifactNameConverter):
    regex = r"[0-9a-f]{64}"


def register() -> None:
    register_converter(ArtifactNameConverter, "artifact_name")
    register_converter(ModelNameConverter, "model_name")
    register_converter(ArtifactNameConverter, "artifact_ref")
    register_converter(Sha256Converter, "sha256")

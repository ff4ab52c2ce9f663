"""OpenAPI shapes of the project-level API (documentation only; views build their JSON
themselves). docs/api.md has the prose and examples."""

from __future__ import annotations

from rest_framework import serializers as s


class ViewIn(s.Serializer):
    name = s.CharField(max_length=128)
    spec = s.JSONField(required=False, help_text="The workspace document (object, <= 256 KiB).")
    is_default = s.BooleanField(required=False)


class ViewPatchIn(s.Serializer):
    name = s.CharField(max_length=128, required=False)
    spec = s.JSONField(required=False)
    is_default = s.BooleanField(required=False)


class ViewOut(s.Serializer):
    id = s.IntegerField()
    name = s.CharField()
    is_default = s.BooleanField()
    spec = s.JSONField()
    created_by = s.EmailField(allow_null=True)
    created_at = s.DateTimeField()
    updated_at = s.DateTimeField()


class ViewListOut(s.Serializer):
    views = ViewOut(many=True)

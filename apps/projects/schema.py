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


class ImportanceParameterOut(s.Serializer):
    name = s.CharField(help_text="config.<field>, or config.<field>=<value> (one-hot).")
    kind = s.ChoiceField(choices=["numeric", "categorical"])
    importance = s.FloatField(allow_null=True, help_text="Random-forest importance (sums to 1).")
    pearson = s.FloatField(allow_null=True)
    spearman = s.FloatField(allow_null=True)
    runs = s.IntegerField(help_text="Runs with a value for this feature.")


class ImportanceOut(s.Serializer):
    metric = s.CharField()
    runs = s.IntegerField(help_text="Runs with the metric in their summary.")
    parameters = ImportanceParameterOut(many=True)
    cached = s.BooleanField()
    reason = s.CharField(required=False, help_text="Why parameters is empty.")

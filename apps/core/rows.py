"""Model instances from one raw joined row, for the per-request lookups that run on every
API call (authentication, scope): one round trip and no ORM query compilation, which
costs about as much as the round trip itself on these paths."""

from __future__ import annotations

from django.db import models


def columns(model: type[models.Model], alias: str) -> str:
    """The SELECT list of `model`'s concrete columns under table alias `alias`."""
    return ", ".join(f'{alias}."{f.column}"' for f in model._meta.concrete_fields)


def instances(row: tuple, *models_in_order: type[models.Model]) -> list[models.Model | None]:
    """Split `row` (selected with `columns` for each model, in this order) into
    instances; a model whose primary key is NULL (an unmatched LEFT JOIN) gives None."""
    found: list[models.Model | None] = []
    start = 0
    for model in models_in_order:
        fields = model._meta.concrete_fields
        values = row[start : start + len(fields)]
        start += len(fields)
        pk_value = values[fields.index(model._meta.pk)]
        names = [f.attname for f in fields]
        found.append(None if pk_value is None else model.from_db("default", names, values))
    return found

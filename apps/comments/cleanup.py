"""Removing the comments of deleted objects.

Every comment read resolves its target first, so comments of a deleted object were
already unreachable; this removes their rows (and follows) with the object, inside the
deleting transaction. It imports only the comment models, so the apps whose objects
carry comments (runs, registry, sweeps, reports) may call it without an import cycle.
"""

from __future__ import annotations

from apps.comments.models import Comment, Follow


def comments_remove(team, kind: str, target_ids) -> int:
    """Delete the comments and follows of `kind` targets `target_ids` in `team`; the
    number of comments removed."""
    ids = list(target_ids)
    if not ids:
        return 0
    Follow.objects.for_team(team).filter(target_kind=kind, target_id__in=ids).delete()
    # Replies first is unnecessary: parent is ON DELETE CASCADE within the same target.
    removed, _ = Comment.objects.for_team(team).filter(target_kind=kind, target_id__in=ids).delete()
    return removed

"""Comment reads. Every function takes the team first and a Target already resolved
through apps.comments.targets (so the caller may see it)."""

from __future__ import annotations

from collections import Counter

from django.db.models import Count, Q

from apps.comments.models import Comment
from apps.core.errors import NotFound
from apps.projects.models import Visibility
from apps.teams.models import Membership
from apps.teams.roles import ADMIN

MAX_COMMENTS = 1000


def comments_for(team, target) -> list[Comment]:
    """The target's comments, oldest first; deleted ones only where replies hang on them."""
    rows = list(
        Comment.objects.for_team(team)
        .filter(target_kind=target.kind, target_id=target.pk)
        .select_related("author")
        .order_by("created_at", "id")[:MAX_COMMENTS]
    )
    has_replies = {c.parent_id for c in rows if c.parent_id and c.deleted_at is None}
    return [c for c in rows if c.deleted_at is None or c.pk in has_replies]


def comment_get(team, target, comment_id: int) -> Comment:
    comment = (
        Comment.objects.for_team(team)
        .filter(target_kind=target.kind, target_id=target.pk, pk=comment_id, deleted_at=None)
        .select_related("author")
        .first()
    )
    if comment is None:
        raise NotFound("Comment not found.")
    return comment


def comment_counts(team, kind: str, target_ids: list[int]) -> dict[int, int]:
    """Live comments per target id (targets without comments are absent)."""
    if not target_ids:
        return {}
    rows = (
        Comment.objects.for_team(team)
        .filter(target_kind=kind, target_id__in=target_ids, deleted_at=None)
        .values("target_id")
        .annotate(n=Count("id"))
    )
    return {row["target_id"]: row["n"] for row in rows}


def _members_who_see(team, project):
    """Memberships of `team` whose holders may see `project` (None: team-level target).
    Restricted projects: admins and the project's creator only (as open_scope decides)."""
    qs = Membership.objects.for_team(team).select_related("user").filter(user__is_active=True)
    if project is not None and project.visibility == Visibility.RESTRICTED:
        qs = qs.filter(Q(role=ADMIN) | Q(user_id=project.created_by_id))
    return qs


def handles(memberships) -> dict[int, str]:
    """user id -> the @handle that names them: the email's local part, or the whole
    address where two members share a local part."""
    locals_ = {m.user_id: m.user.email.split("@", 1)[0].lower() for m in memberships}
    taken = Counter(locals_.values())
    return {
        m.user_id: locals_[m.user_id] if taken[locals_[m.user_id]] == 1 else m.user.email.lower()
        for m in memberships
    }


def mentionable(team, project, *, prefix: str = "", limit: int = 10) -> list[dict]:
    """Members who may be mentioned on a target of `project` (None: team-level), whose
    handle, name or email starts with `prefix` (case-insensitive), by handle."""
    memberships = list(_members_who_see(team, project))
    names = handles(memberships)
    prefix = prefix.lower()
    out = []
    for m in memberships:
        handle = names[m.user_id]
        fields = (handle, (m.user.name or "").lower(), m.user.email.lower())
        if not prefix or any(f.startswith(prefix) for f in fields):
            out.append({"id": m.user_id, "handle": handle, "name": m.user.name or m.user.email})
    out.sort(key=lambda row: row["handle"])
    return out[:limit]


def mentioned_users(team, project, candidates: list[str]) -> dict[str, int]:
    """handle (as written, lowercased) -> user id, for the candidates that name a member
    who may see the target. Anyone else (another team's user, a member who cannot see a
    restricted project, a typo) is simply not mentioned."""
    if not candidates:
        return {}
    memberships = list(_members_who_see(team, project))
    names = handles(memberships)
    by_handle = {handle: uid for uid, handle in names.items()}
    by_email = {m.user.email.lower(): m.user_id for m in memberships}
    found = {}
    for raw in candidates:
        key = raw.lower()
        uid = by_handle.get(key) or by_email.get(key)
        if uid is not None:
            found[key] = uid
    return found

"""Comment writes: create (with mentions and follows), edit, delete. Every function takes a
Target resolved through apps.comments.targets inside the caller's scope.

Side effects after commit only: the live event to the target's comments group and the
notification events (a mention; a comment on something the recipient owns or follows),
which apps.notifications fans out in Celery.
"""

from __future__ import annotations

import re

from django.db import transaction
from django.utils import timezone

from apps.comments import markdown, selectors
from apps.comments.models import Comment, Follow
from apps.core.access import is_owner
from apps.core.errors import PermissionDenied, field_error
from apps.notifications import services as notify
from apps.realtime import events, groups
from apps.teams import roles

MAX_BODY = 20_000
# `@local` or `@name@example.org`, not inside a word (so plain emails are no mentions).
MENTION_RE = re.compile(r"(?<![\w@.])@([A-Za-z0-9._%+-]+(?:@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)?)")


def _body(data: dict) -> str:
    body = data.get("body")
    if not isinstance(body, str) or not body.strip():
        raise field_error("body must be a non-empty string.", "body")
    if len(body) > MAX_BODY:
        raise field_error(f"body must be at most {MAX_BODY} characters.", "body")
    if "\x00" in body:
        raise field_error("body must not contain NUL characters.", "body")
    return body


def _mentions(target, body: str) -> list[int]:
    candidates = [m.rstrip(".") for m in MENTION_RE.findall(body)]
    return sorted(set(selectors.mentioned_users(target.team, target.project, candidates).values()))


def comment_out(comment: Comment, *, actor=None, permissions: frozenset[str] = frozenset()) -> dict:
    deleted = comment.deleted_at is not None
    author = comment.author
    return {
        "id": comment.pk,
        "parent": comment.parent_id,
        "author": None
        if author is None
        else {"id": author.pk, "name": author.name or author.email, "email": author.email},
        "body": "" if deleted else comment.body,
        "html": "" if deleted else comment.body_html,
        "mentions": comment.mentions,
        "created_at": comment.created_at.isoformat(),
        "edited_at": comment.edited_at.isoformat() if comment.edited_at else None,
        "deleted": deleted,
        "can_edit": not deleted and _may_change(comment, actor, permissions),
    }


def _may_change(comment: Comment, actor, permissions) -> bool:
    return roles.TEAM_MANAGE in permissions or is_owner(comment.author_id, actor)


def _require_may_change(comment: Comment, actor, permissions) -> None:
    """Authors change their own comments; team admins (team:manage) any."""
    if not _may_change(comment, actor, permissions):
        raise PermissionDenied(
            "Only the comment's author or a team admin may change it.",
            detail={"permission": roles.TEAM_MANAGE, "owner_only": True},
        )


def _publish(target, kind: str, comment: Comment) -> None:
    # Viewers' rights differ (can_edit); the client asks for its own view of the comment.
    events.publish_on_commit(
        [groups.comments_group(target.team.pk, target.kind, target.pk)],
        {"type": kind, "comment": comment.pk, "parent": comment.parent_id},
    )


def comment_create(*, target, actor, data: dict) -> Comment:
    body = _body(data)
    parent_id = data.get("parent")
    if parent_id is not None:
        if type(parent_id) is not int:
            raise field_error("parent must be a comment id.", "parent")
        parent = (
            Comment.objects.for_team(target.team)
            .filter(target_kind=target.kind, target_id=target.pk, pk=parent_id, deleted_at=None)
            .first()
        )
        if parent is None:
            raise field_error("parent names no comment of this object.", "parent")
        parent_id = parent.parent_id or parent.pk  # threads stay one level deep
    mentions = _mentions(target, body)
    with transaction.atomic():
        comment = Comment.objects.for_team(target.team).create(
            team=target.team,
            target_kind=target.kind,
            target_id=target.pk,
            project=target.project,
            parent_id=parent_id,
            author=actor,
            body=body,
            body_html=markdown.render(body),
            mentions=mentions,
        )
        Follow.objects.for_team(target.team).bulk_create(
            [Follow(team=target.team, user=actor, target_kind=target.kind, target_id=target.pk)],
            ignore_conflicts=True,
        )
        _notify(target, comment, actor, mentions)
        _publish(target, "comment.created", comment)
    return comment


def _notify(target, comment: Comment, actor, mentions: list[int]) -> None:
    who = actor.name or actor.email
    excerpt = comment.body[:280]
    if mentions:
        notify.event_publish(
            team=target.team,
            kind=notify.Kind.MENTION,
            key=f"comment:{comment.pk}:mention",
            title=f"{who} mentioned you on {target.label}",
            text=excerpt,
            url=f"{target.web_url}#comment-{comment.pk}",
            project=target.project,
            actor=actor,
            recipients=[uid for uid in mentions if uid != actor.pk],
        )
    followers = set(
        Follow.objects.for_team(target.team)
        .filter(target_kind=target.kind, target_id=target.pk)
        .values_list("user_id", flat=True)
    )
    if target.owner_id is not None:
        followers.add(target.owner_id)
    recipients = sorted(followers - set(mentions) - {actor.pk})
    if recipients:
        notify.event_publish(
            team=target.team,
            kind=notify.Kind.COMMENT,
            key=f"comment:{comment.pk}:comment",
            title=f"{who} commented on {target.label}",
            text=excerpt,
            url=f"{target.web_url}#comment-{comment.pk}",
            project=target.project,
            actor=actor,
            recipients=recipients,
        )


def comment_update(*, target, comment: Comment, actor, permissions, data: dict) -> Comment:
    _require_may_change(comment, actor, permissions)
    body = _body(data)
    previous = set(comment.mentions)
    comment.body = body
    comment.body_html = markdown.render(body)
    comment.mentions = _mentions(target, body)
    comment.edited_at = timezone.now()
    with transaction.atomic():
        comment.save(update_fields=["body", "body_html", "mentions", "edited_at"])
        added = [uid for uid in comment.mentions if uid not in previous and uid != actor.pk]
        if added:  # newly mentioned people hear about it; earlier ones are not told again
            notify.event_publish(
                team=target.team,
                kind=notify.Kind.MENTION,
                key=f"comment:{comment.pk}:mention:{comment.edited_at.timestamp()}",
                title=f"{actor.name or actor.email} mentioned you on {target.label}",
                text=body[:280],
                url=f"{target.web_url}#comment-{comment.pk}",
                project=target.project,
                actor=actor,
                recipients=added,
            )
        _publish(target, "comment.updated", comment)
    return comment


def comment_delete(*, target, comment: Comment, actor, permissions) -> None:
    """Soft delete: the text goes, the row stays so that replies keep their thread."""
    _require_may_change(comment, actor, permissions)
    with transaction.atomic():
        Comment.objects.for_team(target.team).filter(pk=comment.pk).update(
            deleted_at=timezone.now(), body="", body_html="", mentions=[]
        )
        _publish(target, "comment.deleted", comment)

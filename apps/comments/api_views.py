"""Comment API views, one set per target kind (apps/comments/targets.py): the URL names
the target, which is resolved through its app's selector before anything else, so
another team's object (or its comment) is a 404 whatever the body holds."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers as s
from rest_framework.response import Response

from apps.api.base import GradlineAPIView
from apps.comments import selectors, services, targets
from apps.comments.models import TargetKind
from apps.core.errors import DomainError, NotFound

TARGET_KWARGS = ("run", "name", "ref", "sweep", "report_id")

CommentIn = inline_serializer(
    "CommentIn", {"body": s.CharField(), "parent": s.IntegerField(required=False, allow_null=True)}
)
CommentOut = inline_serializer(
    "CommentOut",
    {
        "id": s.IntegerField(),
        "parent": s.IntegerField(allow_null=True),
        "author": s.DictField(allow_null=True),
        "body": s.CharField(),
        "html": s.CharField(),
        "mentions": s.ListField(child=s.IntegerField()),
        "created_at": s.DateTimeField(),
        "edited_at": s.DateTimeField(allow_null=True),
        "deleted": s.BooleanField(),
        "can_edit": s.BooleanField(),
    },
)


def body_of(request) -> dict:
    data = request.data
    if not isinstance(data, dict):
        raise DomainError("Body must be a JSON object.", code="invalid_json")
    return data


class CommentsAPIView(GradlineAPIView):
    kind: str = ""

    def target(self, kwargs) -> targets.Target:
        return targets.resolve(
            self.scope, self.kind, {k: v for k, v in kwargs.items() if k in TARGET_KWARGS}
        )

    def out(self, comment) -> dict:
        return services.comment_out(
            comment, actor=self.scope.actor, permissions=self.scope.permissions
        )


class CommentListView(CommentsAPIView):
    @extend_schema(
        responses=inline_serializer("CommentList", {"comments": s.ListField(child=CommentOut)})
    )
    def get(self, request, **kwargs):
        target = self.target(kwargs)
        return Response(
            {"comments": [self.out(c) for c in selectors.comments_for(self.team, target)]}
        )

    @extend_schema(request=CommentIn, responses={201: CommentOut})
    def post(self, request, **kwargs):
        target = self.target(kwargs)
        comment = services.comment_create(
            target=target, actor=self.scope.actor, data=body_of(request)
        )
        comment.author = self.scope.actor
        return Response(self.out(comment), status=201)


class CommentDetailView(CommentsAPIView):
    @extend_schema(responses=CommentOut)
    def get(self, request, comment_id, **kwargs):
        target = self.target(kwargs)
        return Response(self.out(selectors.comment_get(self.team, target, comment_id)))

    @extend_schema(request=CommentIn, responses=CommentOut)
    def patch(self, request, comment_id, **kwargs):
        target = self.target(kwargs)
        comment = selectors.comment_get(self.team, target, comment_id)
        comment = services.comment_update(
            target=target,
            comment=comment,
            actor=self.scope.actor,
            permissions=self.scope.permissions,
            data=body_of(request),
        )
        return Response(self.out(comment))

    @extend_schema(responses={204: None})
    def delete(self, request, comment_id, **kwargs):
        target = self.target(kwargs)
        comment = selectors.comment_get(self.team, target, comment_id)
        services.comment_delete(
            target=target,
            comment=comment,
            actor=self.scope.actor,
            permissions=self.scope.permissions,
        )
        return Response(status=204)


def views_for(kind: str):
    """(list view, detail view) classes for one target kind."""
    name = "".join(part.title() for part in kind.split("_"))
    return (
        type(f"{name}CommentListView", (CommentListView,), {"kind": kind}),
        type(f"{name}CommentDetailView", (CommentDetailView,), {"kind": kind}),
    )


MAX_COUNT_IDS = 1000


class RunCommentCountsView(GradlineAPIView):
    """Comment counts of the project's runs: `?runs=a,b` (at most 1000), or the runs
    of the project that have comments when omitted."""

    @extend_schema(
        responses=inline_serializer(
            "CommentCounts", {"counts": s.DictField(child=s.IntegerField())}
        )
    )
    def get(self, request, team, project):
        raw = request.query_params.get("runs")
        uids = [u for u in (raw or "").split(",") if u][:MAX_COUNT_IDS] if raw else None
        from apps.runs.models import Run

        runs = Run.objects.for_team(self.team).filter(project=self.project)
        if uids is not None:
            runs = runs.filter(uid__in=uids)
        else:
            from apps.comments.models import Comment

            runs = runs.filter(
                pk__in=Comment.objects.for_team(self.team)
                .filter(target_kind=TargetKind.RUN, project=self.project, deleted_at=None)
                .values("target_id")
            )
        by_pk = dict(runs.values_list("pk", "uid")[:MAX_COUNT_IDS])
        counts = selectors.comment_counts(self.team, TargetKind.RUN, list(by_pk))
        return Response({"counts": {by_pk[pk]: n for pk, n in counts.items()}})


class MentionableView(GradlineAPIView):
    """Members who may be mentioned: `?prefix=` and, for a target in a project, `?project=`
    (404 when the caller may not see that project; restricted projects narrow the list to
    the members who may see them)."""

    @extend_schema(
        responses=inline_serializer("Mentionable", {"members": s.ListField(child=s.DictField())})
    )
    def get(self, request, team):
        from apps.registry.selectors import project_visible

        prefix = request.query_params.get("prefix", "")[:100]
        name = request.query_params.get("project")
        project = None
        if name:
            try:
                project = project_visible(
                    self.team, name, membership=self.scope.membership, user=request.user
                )
            except NotFound:
                raise NotFound("Project not found.") from None
        return Response({"members": selectors.mentionable(self.team, project, prefix=prefix)})

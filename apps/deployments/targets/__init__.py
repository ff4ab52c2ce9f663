"""Deployment targets: one adapter per platform with `deploy(ctx) -> url` and
`stop(ctx)`, both idempotent and resumable from `ctx.runtime` (what an earlier,
possibly killed, job of the same deployment recorded)."""

from __future__ import annotations


class TargetError(Exception):
    """A step of the target failed; the message (never credentials) goes on the deployment."""


def adapter(platform: str):
    if platform == "local":
        from apps.deployments.targets import local

        return local
    if platform == "sagemaker":
        from apps.deployments.targets import sagemaker

        return sagemaker
    if platform == "kubernetes":
        from apps.deployments.targets import kubernetes

        return kubernetes
    raise TargetError(f"The {platform} target is not available on this server yet.")

"""The `kubernetes` target: manifests rendered from the package (apps/deployments/
manifests.py). Without a kubeconfig in the target's credentials the deployment is
`healthy` with its manifests ready to download and apply (GitOps); applying them with
the official client is not built yet and fails with that message."""

from __future__ import annotations

from apps.deployments import manifests
from apps.deployments.targets import TargetError


def deploy(ctx) -> str:
    documents = manifests.render(ctx.deployment)
    kinds = ", ".join(f"{d['kind']}/{d['metadata']['name']}" for d in documents)
    ctx.log(f"rendered {kinds}")
    if ctx.credentials.get("kubeconfig"):
        raise TargetError("Applying manifests to a cluster is not available yet; download them.")
    ctx.save_runtime({"rendered": kinds})
    return ""


def stop(ctx) -> None:
    ctx.save_runtime({})

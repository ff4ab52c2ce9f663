"""Kubernetes manifests of a deployment (the `kubernetes` target and the downloadable
YAML for GitOps): a Deployment running MLServer on the package, its Service and a
HorizontalPodAutoscaler, or a KServe InferenceService when `kserve: true`."""

from __future__ import annotations

import re

import yaml

MLSERVER_IMAGE = "seldonio/mlserver:1.7.1-sklearn"


def _int(options: dict, key: str, default: int) -> int:
    value = options.get(key, default)
    return (
        value
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10_000
        else default
    )


def k8s_name(endpoint_name: str) -> str:
    name = re.sub(r"[^a-z0-9-]", "-", endpoint_name.lower()).strip("-")
    return name[:63] or "model"


def render(deployment) -> list[dict]:
    options = deployment.options or {}
    name = k8s_name(deployment.endpoint_name)
    namespace = str(options.get("namespace") or "default")
    labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/managed-by": "gradline"}
    package = deployment.package.digest if deployment.package_id and deployment.package else ""
    annotations = {"gradline.dev/model": deployment.version_label, "gradline.dev/package": package}
    storage_uri = str(
        options.get("storage_uri") or f"pvc://gradline-packages/{package or 'pending'}"
    )
    if options.get("kserve"):
        return [
            {
                "apiVersion": "serving.kserve.io/v1beta1",
                "kind": "InferenceService",
                "metadata": {
                    "name": name,
                    "namespace": namespace,
                    "labels": labels,
                    "annotations": annotations,
                },
                "spec": {
                    "predictor": {
                        "minReplicas": _int(options, "min_replicas", 1),
                        "maxReplicas": _int(options, "max_replicas", 3),
                        "model": {
                            "modelFormat": {"name": "sklearn"},
                            "protocolVersion": "v2",
                            "runtime": "kserve-mlserver",
                            "storageUri": storage_uri,
                        },
                    }
                },
            }
        ]
    container = {
        "name": "mlserver",
        "image": str(options.get("image") or MLSERVER_IMAGE),
        "ports": [{"name": "http", "containerPort": 8080}, {"name": "grpc", "containerPort": 8081}],
        "env": [
            {"name": "MLSERVER_MODEL_NAME", "value": deployment.endpoint_name},
            {"name": "MLSERVER_MODEL_IMPLEMENTATION", "value": "mlserver_sklearn.SKLearnModel"},
            {"name": "MLSERVER_MODEL_URI", "value": "/mnt/models/model.pkl"},
        ],
        "readinessProbe": {"httpGet": {"path": "/v2/health/ready", "port": "http"}},
        "livenessProbe": {"httpGet": {"path": "/v2/health/live", "port": "http"}},
        "resources": {
            "requests": {
                "cpu": str(options.get("cpu", "500m")),
                "memory": str(options.get("memory", "512Mi")),
            }
        },
        "volumeMounts": [{"name": "model", "mountPath": "/mnt/models", "readOnly": True}],
    }
    return [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "labels": labels,
                "annotations": annotations,
            },
            "spec": {
                "replicas": _int(options, "min_replicas", 1),
                "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
                "template": {
                    "metadata": {"labels": labels, "annotations": annotations},
                    "spec": {
                        "containers": [container],
                        "volumes": [
                            {
                                "name": "model",
                                "persistentVolumeClaim": {
                                    "claimName": str(options.get("pvc", "gradline-packages")),
                                    "readOnly": True,
                                },
                            }
                        ],
                    },
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {
                "selector": {"app.kubernetes.io/name": name},
                "ports": [
                    {"name": "http", "port": 80, "targetPort": "http"},
                    {"name": "grpc", "port": 8081, "targetPort": "grpc"},
                ],
            },
        },
        {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
                "minReplicas": _int(options, "min_replicas", 1),
                "maxReplicas": _int(options, "max_replicas", 3),
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {
                                "type": "Utilization",
                                "averageUtilization": _int(options, "target_cpu", 70),
                            },
                        },
                    }
                ],
            },
        },
    ]


def render_yaml(deployment) -> str:
    return yaml.safe_dump_all(render(deployment), sort_keys=False)

"""The `sagemaker` target through boto3: the package as model.tar.gz in S3,
`create_model`, an endpoint configuration, the endpoint; a redeploy creates a new
model and configuration and updates the endpoint (SageMaker swaps them blue/green);
stop deletes the endpoint, its configurations and models.

Credentials: the target's stored ones (aws_access_key_id, aws_secret_access_key,
aws_session_token) or the worker's environment; `endpoint_url` in the options points
boto3 at another implementation of the API (the tests: moto in server mode)."""

from __future__ import annotations

import contextlib
import io
import tarfile
import time

from apps.deployments import packaging
from apps.deployments.targets import TargetError

READY_TIMEOUT_S = 1800
DEFAULT_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"


def _clients(ctx):
    import boto3

    options = ctx.deployment.options
    creds = ctx.credentials
    session = boto3.session.Session(
        aws_access_key_id=creds.get("aws_access_key_id"),
        aws_secret_access_key=creds.get("aws_secret_access_key"),
        aws_session_token=creds.get("aws_session_token"),
        region_name=str(options.get("region") or "us-east-1"),
    )
    endpoint_url = options.get("endpoint_url") or None
    return (
        session.client("s3", endpoint_url=endpoint_url),
        session.client("sagemaker", endpoint_url=endpoint_url),
    )


def _step(ctx, what: str, call, *args, **kwargs):
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return call(*args, **kwargs)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise TargetError(
            f"SageMaker {what} failed: {error.get('Code')}: {error.get('Message')}"
        ) from None
    except BotoCoreError as exc:
        raise TargetError(f"SageMaker {what} failed: {exc}") from None


def _tarball(ctx) -> bytes:
    directory = packaging.package_dir(ctx.package)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(directory / ctx.package.model_file, arcname=ctx.package.model_file)
        tar.add(directory / "package.json", arcname="package.json")
    return buffer.getvalue()


def deploy(ctx) -> str:
    s3, sm = _clients(ctx)
    options = ctx.deployment.options
    name = ctx.deployment.endpoint_name
    role = str(options.get("role_arn") or "arn:aws:iam::123456789012:role/gradline-sagemaker")
    bucket = str(options.get("bucket") or f"gradline-models-{ctx.deployment.team_id}")
    key = f"packages/{ctx.package.digest}/model.tar.gz"
    # Names carry the attempt, so a resumed job re-finds what its predecessor created.
    suffix = f"{ctx.package.digest[:8]}-a{ctx.attempt}"
    model_name = f"{name}-{suffix}"[:63]
    config_name = f"{name}-cfg-{suffix}"[:63]
    runtime = dict(ctx.runtime)
    existing = {b["Name"] for b in _step(ctx, "list buckets", s3.list_buckets).get("Buckets", [])}
    if bucket not in existing:
        _step(ctx, "create bucket", s3.create_bucket, Bucket=bucket)
    _step(ctx, "upload model.tar.gz", s3.put_object, Bucket=bucket, Key=key, Body=_tarball(ctx))
    ctx.log(f"uploaded s3://{bucket}/{key}")
    models = {
        m["ModelName"]
        for m in _step(ctx, "list models", sm.list_models, NameContains=name).get("Models", [])
    }
    if model_name not in models:
        _step(
            ctx,
            "create_model",
            sm.create_model,
            ModelName=model_name,
            ExecutionRoleArn=role,
            PrimaryContainer={
                "Image": str(options.get("image") or DEFAULT_IMAGE),
                "ModelDataUrl": f"s3://{bucket}/{key}",
                "Environment": {"SAGEMAKER_PROGRAM": "inference.py"},
            },
        )
        ctx.log(f"created model {model_name}")
    # Recorded at once: a later failing step leaves it for stop/delete to remove.
    runtime.setdefault("models", [])
    if model_name not in runtime["models"]:
        runtime["models"].append(model_name)
    ctx.save_runtime(runtime)
    configs = {
        c["EndpointConfigName"]
        for c in _step(
            ctx, "list endpoint configs", sm.list_endpoint_configs, NameContains=name
        ).get("EndpointConfigs", [])
    }
    if config_name not in configs:
        _step(
            ctx,
            "create_endpoint_config",
            sm.create_endpoint_config,
            EndpointConfigName=config_name,
            ProductionVariants=[
                {
                    "VariantName": "primary",
                    "ModelName": model_name,
                    "InitialInstanceCount": int(options.get("instance_count", 1)),
                    "InstanceType": str(options.get("instance_type") or "ml.m5.large"),
                }
            ],
        )
        ctx.log(f"created endpoint config {config_name}")
    runtime.setdefault("models", [])
    runtime.setdefault("configs", [])
    for key_, value in (("models", model_name), ("configs", config_name)):
        if value not in runtime[key_]:
            runtime[key_].append(value)
    runtime["bucket"] = bucket
    ctx.save_runtime(runtime)
    endpoints = {
        e["EndpointName"]
        for e in _step(ctx, "list endpoints", sm.list_endpoints, NameContains=name).get(
            "Endpoints", []
        )
    }
    if name in endpoints:
        current = _step(ctx, "describe_endpoint", sm.describe_endpoint, EndpointName=name)
        if current.get("EndpointConfigName") != config_name:
            if options.get("redeploy") == "replace":
                # Delete and create again (an API without UpdateEndpoint, such as moto).
                _step(ctx, "delete_endpoint", sm.delete_endpoint, EndpointName=name)
                _step(
                    ctx,
                    "create_endpoint",
                    sm.create_endpoint,
                    EndpointName=name,
                    EndpointConfigName=config_name,
                )
                ctx.log(f"replaced endpoint {name} with {config_name}")
            else:
                # SageMaker swaps to the new config blue/green, serving the old meanwhile.
                _step(
                    ctx,
                    "update_endpoint",
                    sm.update_endpoint,
                    EndpointName=name,
                    EndpointConfigName=config_name,
                )
                ctx.log(f"updating endpoint {name} to {config_name}")
    else:
        _step(
            ctx,
            "create_endpoint",
            sm.create_endpoint,
            EndpointName=name,
            EndpointConfigName=config_name,
        )
        ctx.log(f"creating endpoint {name}")
    runtime["endpoint"] = name
    ctx.save_runtime(runtime)
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        status = _step(ctx, "describe_endpoint", sm.describe_endpoint, EndpointName=name)
        state = status.get("EndpointStatus")
        if state == "InService" and status.get("EndpointConfigName") == config_name:
            break
        if state == "Failed":
            raise TargetError(
                f"SageMaker endpoint failed: {status.get('FailureReason', 'no reason given')}"
            )
        if time.monotonic() > deadline:
            raise TargetError(
                f"SageMaker endpoint not InService within {READY_TIMEOUT_S} s ({state})."
            )
        ctx.heartbeat(wait=1.0)
    ctx.log(f"endpoint {name} InService")
    _delete_others(ctx, sm, runtime, keep_model=model_name, keep_config=config_name)
    region = str(options.get("region") or "us-east-1")
    return f"https://runtime.sagemaker.{region}.amazonaws.com/endpoints/{name}/invocations"


def _delete_others(ctx, sm, runtime: dict, keep_model: str, keep_config: str) -> None:
    """After a redeploy: the configurations and models of earlier attempts go."""
    from botocore.exceptions import ClientError

    for config in [c for c in runtime.get("configs", []) if c != keep_config]:
        with contextlib.suppress(ClientError):
            sm.delete_endpoint_config(EndpointConfigName=config)
    for model in [m for m in runtime.get("models", []) if m != keep_model]:
        with contextlib.suppress(ClientError):
            sm.delete_model(ModelName=model)
    runtime["configs"], runtime["models"] = [keep_config], [keep_model]
    ctx.save_runtime(runtime)


def stop(ctx) -> None:
    _s3, sm = _clients(ctx)
    from botocore.exceptions import ClientError

    def quietly(call, **kwargs):
        try:
            call(**kwargs)
        except ClientError as exc:
            if "not" not in str(exc).lower() and "could not find" not in str(exc).lower():
                raise TargetError(f"SageMaker delete failed: {exc}") from None

    runtime = ctx.runtime
    if runtime.get("endpoint"):
        quietly(sm.delete_endpoint, EndpointName=runtime["endpoint"])
        ctx.log(f"deleted endpoint {runtime['endpoint']}")
    for config in runtime.get("configs", []):
        quietly(sm.delete_endpoint_config, EndpointConfigName=config)
    for model in runtime.get("models", []):
        quietly(sm.delete_model, ModelName=model)
    ctx.save_runtime({})

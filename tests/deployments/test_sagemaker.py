"""The sagemaker target through boto3 against moto in server mode (real HTTP, a
separate process; not AWS): create (S3 upload, model, endpoint config, endpoint),
redeploy, delete, a failing step -> `failed` with SageMaker's error, credentials never
in an API answer or the worker's log. And the product brief's deployment sample, run
unchanged with `import gradline as wandb` against a live server."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import boto3
import httpx
import pytest

from apps.accounts import services as account_services
from apps.deployments.models import Deployment
from tests.celery_worker import wait_until
from tests.child_process import child_env
from tests.deployments.conftest import log_model_version, sklearn_model_bytes
from tests.ports import free_port
from tests.runs.conftest import post_json

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(600)]

T = "/api/v1/teams/team-a"
DEADLINE_S = 240
SECRET = "moto-secret-Zq8Jf3LkP0aXw"


@pytest.fixture
def moto(tmp_path, monkeypatch):
    """moto_server on a free port; boto3 in this process and in the worker reach it
    through AWS_ENDPOINT_URL (the brief's sample names no endpoint)."""
    port = free_port()
    log = open(tmp_path / "moto.log", "wb")  # noqa: SIM115 - the server writes it
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"

    def up():
        try:
            return httpx.get(f"{url}/moto-api/", timeout=2).status_code < 500
        except httpx.HTTPError:
            return process.poll() is not None

    wait_until(up, 60, "moto server")
    assert process.poll() is None, (tmp_path / "moto.log").read_text()
    for key, value in {
        "AWS_ENDPOINT_URL": url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    yield url
    process.terminate()
    process.wait(20)


def _sm(url):
    return boto3.client("sagemaker", endpoint_url=url, region_name="us-east-1")


def _state(team, pk, states, attempt=None):
    def settled():
        row = Deployment.objects.for_team(team).filter(pk=pk).first()
        if row is None:
            return "gone" if "gone" in states else None
        if row.state in states and (attempt is None or row.attempt == attempt):
            return row
        return None

    return wait_until(settled, DEADLINE_S, f"deployment {pk} in {states}")


def test_create_redeploy_fail_and_delete_on_moto(
    moto, deploy_root, celery_worker, api_for, admin_user, team, project
):
    admin = api_for(admin_user)
    log_model_version(team, project, admin_user, sklearn_model_bytes(), aliases=["production"])
    options = {
        "redeploy": "replace",  # moto has no UpdateEndpoint (docs/deployments.md)
        "aws_access_key_id": "AKIAGRADLINETEST",
        "aws_secret_access_key": SECRET,
    }
    body = {"model": "model:production", "project": "resnet", "platform": "sagemaker",
            "endpoint_name": "churn", "options": options}  # fmt: skip
    created = post_json(admin, f"{T}/deployments", body)
    assert created.status_code == 201, created.content
    row = _state(team, created.json()["id"], ("healthy", "failed"))
    assert row.state == "healthy", row.error
    sm = _sm(moto)
    endpoint = sm.describe_endpoint(EndpointName="churn")
    assert endpoint["EndpointStatus"] == "InService"
    first_config = endpoint["EndpointConfigName"]
    config = sm.describe_endpoint_config(EndpointConfigName=first_config)
    model_name = config["ProductionVariants"][0]["ModelName"]
    data_url = sm.describe_model(ModelName=model_name)["PrimaryContainer"]["ModelDataUrl"]
    bucket, key = data_url.removeprefix("s3://").split("/", 1)
    s3 = boto3.client("s3", endpoint_url=moto, region_name="us-east-1")
    assert s3.head_object(Bucket=bucket, Key=key)["ContentLength"] > 0

    # Redeploy a new version: a new model and config now serve the same endpoint.
    log_model_version(team, project, admin_user, sklearn_model_bytes(flip=True))
    redeployed = post_json(admin, f"{T}/deployments/{row.pk}/redeploy", {"model": "model:latest"})
    assert redeployed.status_code == 202, redeployed.content
    row = _state(team, row.pk, ("healthy", "failed"), attempt=2)
    assert row.state == "healthy" and row.version_label == "model:v1", row.error
    assert sm.describe_endpoint(EndpointName="churn")["EndpointConfigName"] != first_config
    history = admin.get(f"{T}/deployments/{row.pk}").json()["history"]
    assert [h["version"] for h in history] == ["model:v1", "model:v0"]

    # A step that fails (the endpoint config's instance type): failed, with the error.
    bad = {**body, "endpoint_name": "broken", "options": {"instance_type": "ml.bogus"}}
    failed = post_json(admin, f"{T}/deployments", bad)
    failed_row = _state(team, failed.json()["id"], ("healthy", "failed"))
    assert failed_row.state == "failed"
    assert "SageMaker create_endpoint_config failed" in failed_row.error, failed_row.error
    assert "ValidationException" in failed_row.error and "ml.bogus" in failed_row.error
    assert sm.describe_endpoint(EndpointName="churn")["EndpointStatus"] == "InService"

    # Delete: the endpoint, its configs and models go, then the record; the failed one's
    # model (created before its failing step) goes with it.
    assert admin.delete(f"{T}/deployments/{row.pk}").status_code == 202
    assert admin.delete(f"{T}/deployments/{failed_row.pk}").status_code == 202
    _state(team, row.pk, ("gone",))
    _state(team, failed_row.pk, ("gone",))
    assert [e["EndpointName"] for e in sm.list_endpoints()["Endpoints"]] == []
    assert sm.list_models()["Models"] == []

    # The credentials never left the server: not in answers, not in the worker's log.
    listing = admin.get(f"{T}/deployments").content.decode()
    assert SECRET not in listing and SECRET not in created.content.decode()
    assert SECRET not in celery_worker.log_text()
    assert "AKIAGRADLINETEST" not in celery_worker.log_text()


BRIEF_SAMPLE = textwrap.dedent(
    """
    import gradline as wandb

    # Deploy to AWS SageMaker
    wandb.deploy(
        model="model:latest",
        platform="sagemaker",
        endpoint_name="my-endpoint"
    )

    # Deploy to Google Cloud
    wandb.deploy(
        model="model:latest",
        platform="gcp",
        endpoint_name="my-endpoint"
    )
    """
)


@pytest.fixture
def asgi_server(transactional_db):
    from tests.e2e.conftest import AsgiLiveServer

    server = AsgiLiveServer().start()
    yield server
    server.stop()


def test_the_product_brief_deployment_sample_runs_unchanged(
    moto, deploy_root, celery_worker, asgi_server, admin_user, team, project, tmp_path
):
    log_model_version(team, project, admin_user, sklearn_model_bytes())
    _, key = account_services.api_key_create(user=admin_user, name="sample", team=team)
    script = tmp_path / "sample.py"
    script.write_text(BRIEF_SAMPLE)
    env = child_env(
        GRADLINE_BASE_URL=asgi_server.url,
        GRADLINE_API_KEY=key,
        GRADLINE_ENTITY="team-a",
        GRADLINE_PROJECT="resnet",
        GRADLINE_DIR=str(tmp_path / "gl"),
    )
    done = subprocess.run(
        [sys.executable, str(script)], env=env, cwd=tmp_path, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = {d.platform: d for d in Deployment.objects.for_team(team).all()}
    assert set(rows) == {"sagemaker", "gcp"}
    sagemaker = _state(team, rows["sagemaker"].pk, ("healthy", "failed"))
    assert sagemaker.state == "healthy", sagemaker.error
    assert sagemaker.version_label == "model:v0"
    assert _sm(moto).describe_endpoint(EndpointName="my-endpoint")["EndpointStatus"] == "InService"

    # The SDK's handles on the same server: list, wait, logs; the gcp one failed clearly.
    from gradline import Api
    from gradline.deployments import DeploymentFailed

    api = Api(api_key=key, base_url=asgi_server.url, overrides={"entity": "team-a"})
    handles = {d.platform: d for d in api.deployments()}
    assert handles["sagemaker"].wait(timeout=DEADLINE_S).status == "healthy"
    assert any("InService" in line for line in handles["sagemaker"].logs())
    with pytest.raises(DeploymentFailed, match="gcp target is not available"):
        handles["gcp"].wait(timeout=DEADLINE_S)
    assert api.deployment("my-endpoint").endpoint_name == "my-endpoint"

    # The CLI: a Kubernetes deployment (rendered manifests, no cluster) waited for.
    cli = subprocess.run(
        [sys.executable, "-m", "gradline", "deploy", "model:latest", "--platform", "kubernetes",
         "--endpoint", "k8s-churn", "--option", "max_replicas=5", "--wait"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    assert "k8s-churn: healthy" in cli.stdout
    yaml_text = api.deployment("k8s-churn").manifests()
    assert "kind: HorizontalPodAutoscaler" in yaml_text and "maxReplicas: 5" in yaml_text

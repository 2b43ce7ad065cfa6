"""deploy/ runs every role of the registry: the Kubernetes manifests (rendered by `kubectl
kustomize`), the compose file, the NATS configs (checked by the real nats-server) and the
Dockerfile (read, and the wheel it installs built from exactly the files it copies)."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from adpipe.runtime.nats import find_nats_server
from testkit.cluster import role_argv, role_names

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
API_PORT = 8080
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


# ---- Kubernetes ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kubectl() -> str:
    found = shutil.which("kubectl")
    if found is None:
        pytest.fail(
            "kubectl is needed to render and check deploy/k8s (`kubectl kustomize`); install it "
            "(https://kubernetes.io/docs/tasks/tools/) and run the tests again",
            pytrace=False,
        )
    return found


def render(kubectl: str, folder: Path) -> list[dict[str, Any]]:
    done = subprocess.run(
        [kubectl, "kustomize", str(folder)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def named(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def pod(doc: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = doc["spec"]["template"]["spec"]
    return spec


def env_of(docs: list[dict[str, Any]], container: dict[str, Any]) -> dict[str, str]:
    """The environment a container gets from its envFrom ConfigMaps and Secrets, decoded."""
    maps, secrets = named(docs, "ConfigMap"), named(docs, "Secret")
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(maps[source["configMapRef"]["name"]]["data"])
        else:
            secret = secrets.get(source["secretRef"]["name"])
            if secret is not None:
                data = secret.get("data", {})
                env.update({k: base64.b64decode(v).decode() for k, v in data.items()})
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = item["value"]
    return env


@pytest.fixture(scope="module")
def manifests(kubectl: str) -> list[dict[str, Any]]:
    return render(kubectl, DEPLOY / "k8s")


def role_deployments(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each role's Deployment, found by its container's command line."""
    by_args = {}
    for deployment in named(docs, "Deployment").values():
        for container in pod(deployment)["containers"]:
            by_args[tuple(container["args"])] = deployment
    missing = [role for role in role_names() if tuple(role_argv(role, API_PORT)) not in by_args]
    assert not missing, f"deploy/k8s has no Deployment running {', '.join(missing)}"
    return {role: by_args[tuple(role_argv(role, API_PORT))] for role in role_names()}


def test_every_role_of_the_registry_has_a_deployment_with_replicas(
    manifests: list[dict[str, Any]],
) -> None:
    kinds = {d["kind"] for d in manifests}
    assert {"Namespace", "Deployment", "StatefulSet", "Service", "ConfigMap", "Secret"} <= kinds
    assert "PodDisruptionBudget" in kinds
    deployments = role_deployments(manifests)
    for role, deployment in deployments.items():
        assert deployment["metadata"]["namespace"] == "adpipe", role
        assert deployment["spec"]["replicas"] >= 2, role
        spec = pod(deployment)
        assert spec["securityContext"]["runAsNonRoot"] is True, role
        assert spec["securityContext"]["runAsUser"] != 0, role
        [container] = spec["containers"]
        assert container["image"] == f"adpipe:{VERSION}", role
        assert container["securityContext"]["allowPrivilegeEscalation"] is False, role
        # No role starts on an old schema.
        assert [c["args"] for c in spec.get("initContainers", [])] == [["migrate"]], role


def test_the_api_is_ready_on_readyz_and_served_by_a_service(
    manifests: list[dict[str, Any]],
) -> None:
    api = role_deployments(manifests)["api"]
    [container] = pod(api)["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": API_PORT}
    ready, alive = container["readinessProbe"]["httpGet"], container["livenessProbe"]["httpGet"]
    assert (ready["path"], ports[ready["port"]]) == ("/readyz", API_PORT)
    assert (alive["path"], ports[alive["port"]]) == ("/healthz", API_PORT)
    labels = api["spec"]["template"]["metadata"]["labels"]
    services = [
        s
        for s in named(manifests, "Service").values()
        if s["spec"].get("selector") and s["spec"]["selector"].items() <= labels.items()
    ]
    assert [s["spec"]["ports"][0]["targetPort"] for s in services] == ["http"]


def test_every_role_reaches_all_three_nats_nodes_and_the_database(
    manifests: list[dict[str, Any]],
) -> None:
    nats = named(manifests, "StatefulSet")["nats"]
    nodes = nats["spec"]["replicas"]
    assert nodes == 3
    headless = named(manifests, "Service")[nats["spec"]["serviceName"]]
    assert headless["spec"]["clusterIP"] == "None"
    client_port = next(p["port"] for p in headless["spec"]["ports"] if p["name"] == "client")
    expected = {f"nats://nats-{i}.nats:{client_port}" for i in range(nodes)}
    postgres = named(manifests, "Service")["postgres"]
    for role, deployment in role_deployments(manifests).items():
        for container in pod(deployment)["containers"] + pod(deployment)["initContainers"]:
            env = env_of(manifests, container)
            assert set(env["NATS_URL"].split(",")) == expected, role
            assert env["ADPIPE_STREAM_REPLICAS"] == str(nodes), role
            assert f"@{postgres['metadata']['name']}:5432/" in env["DATABASE_URL"], role
            assert len(env["ADPIPE_CHAIN_KEY"]) >= 32, role  # one chain key for every role


def test_nats_is_a_three_node_jetstream_cluster_with_storage_and_routes(
    manifests: list[dict[str, Any]],
) -> None:
    nats = named(manifests, "StatefulSet")["nats"]
    spec = pod(nats)
    [container] = spec["containers"]
    [claim] = nats["spec"]["volumeClaimTemplates"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    config = named(manifests, "ConfigMap")[
        next(v["configMap"]["name"] for v in spec["volumes"] if v["name"] == "config")
    ]["data"]["nats.conf"]
    assert re.search(rf"store_dir:\s*{mounts[claim['metadata']['name']]}\b", config)
    assert claim["spec"]["resources"]["requests"]["storage"]
    routes = set(re.findall(r"nats-route://([\w.-]+):(\d+)", config))
    assert routes == {(f"nats-{i}.nats", "6222") for i in range(3)}
    assert {"name": "SERVER_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}} in (
        container["env"]
    )
    probe = container["readinessProbe"]["httpGet"]
    assert probe["path"].startswith("/healthz?js-enabled-only=true")


def test_a_managed_postgres_replaces_the_evaluation_one(kubectl: str) -> None:
    docs = render(kubectl, DEPLOY / "k8s" / "managed-postgres")
    assert "postgres" not in named(docs, "StatefulSet")
    assert "adpipe-database" not in named(docs, "Secret")  # the operator creates it
    for role, deployment in role_deployments(docs).items():
        [container] = pod(deployment)["containers"]
        assert {"secretRef": {"name": "adpipe-database"}} in container["envFrom"], role


# ---- NATS configs --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "nodes"),
    [
        ("nats/nats.conf", ["nats-1", "nats-2", "nats-3"]),
        ("k8s/base/nats.conf", ["nats-0.nats", "nats-1.nats", "nats-2.nats"]),
    ],
)
def test_the_nats_configs_are_valid_for_nats_server(config: str, nodes: list[str]) -> None:
    path = DEPLOY / config
    check = subprocess.run(
        [str(find_nats_server()), "-c", str(path), "-t"],
        env={"SERVER_NAME": "node-under-test"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    text = path.read_text()
    assert "jetstream" in text and "cluster" in text
    assert sorted(host for host, _ in re.findall(r"nats-route://([\w.-]+):(\d+)", text)) == nodes


# ---- compose -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return loaded


def test_compose_runs_every_role_of_the_registry_with_replicas(compose: dict[str, Any]) -> None:
    services = compose["services"]
    by_command = {tuple(s["command"]): name for name, s in services.items() if "command" in s}
    for role in role_names():
        name = by_command.get(tuple(role_argv(role, API_PORT)))
        assert name is not None, f"compose.yaml has no service running {role}"
        service = services[name]
        assert service["deploy"]["replicas"] >= 2, role
        assert service["image"] == f"adpipe:{VERSION}", role
        assert service["build"]["dockerfile"] == "deploy/Dockerfile", role
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        env = service["environment"]
        assert env["ADPIPE_STREAM_REPLICAS"] == "3", role
        hosts = {url.removeprefix("nats://").split(":")[0] for url in env["NATS_URL"].split(",")}
        assert hosts == {"nats-1", "nats-2", "nats-3"}, role
        assert "@postgres:5432/" in env["DATABASE_URL"], role
        assert len(env["ADPIPE_CHAIN_KEY"]) >= 32, role  # one chain key for every role
    assert services["migrate"]["command"] == ["migrate"]
    assert "postgres" in services


def test_compose_runs_a_three_node_jetstream_cluster(compose: dict[str, Any]) -> None:
    services = compose["services"]
    nodes = sorted(name for name in services if name.startswith("nats-"))
    assert nodes == ["nats-1", "nats-2", "nats-3"]
    for name in nodes:
        node = services[name]
        assert node["environment"]["SERVER_NAME"] == name
        config_mount, data_mount = node["volumes"]
        source, target, _ = config_mount.split(":")
        assert node["command"] == ["-c", target]
        config = (DEPLOY / source).read_text()
        assert re.search(rf"store_dir:\s*{data_mount.split(':')[1]}\b", config)
        assert "js-enabled-only=true" in " ".join(node["healthcheck"]["test"])
        assert data_mount.split(":")[0] in compose["volumes"]


# ---- Dockerfile ----------------------------------------------------------------------------------


def stages(dockerfile: str) -> list[list[tuple[str, str]]]:
    """Instructions per stage, as (INSTRUCTION, arguments), continuation lines joined."""
    joined = re.sub(r"\\\n\s*", " ", dockerfile)
    out: list[list[tuple[str, str]]] = []
    for line in joined.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        if word.upper() == "FROM":
            out.append([])
        out[-1].append((word.upper(), rest.strip()))
    return out


def test_the_image_is_slim_non_root_and_runs_adpipe() -> None:
    build, final = stages((DEPLOY / "Dockerfile").read_text())
    assert build[0] == ("FROM", "python:3.11-slim AS wheel")
    assert final[0] == ("FROM", "python:3.11-slim")
    instructions = dict(reversed(final))  # the first of each kind
    users = [args for word, args in final if word == "USER"]
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    assert instructions["ENTRYPOINT"] == '["adpipe"]'
    runs = " ".join(args for word, args in final if word == "RUN")
    assert "pip install --constraint /tmp/constraints.txt /tmp/dist/adpipe-*.whl" in runs
    assert ("COPY", "--from=wheel /dist/ /tmp/dist/") in final
    assert not any(word == "COPY" and "src" in args for word, args in final)  # the wheel only


@pytest.mark.slow
def test_the_wheel_the_image_installs_builds_from_what_the_dockerfile_copies(
    tmp_path: Path,
) -> None:
    build, _ = stages((DEPLOY / "Dockerfile").read_text())
    ignored = (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
    allowed = {line[1:].rstrip("/") for line in ignored if line.startswith("!")}
    context = tmp_path / "context"
    for word, args in build:
        if word != "COPY":
            continue
        *sources, _ = args.split()
        for source in sources:
            assert source in allowed, f"{source} is copied but left out of the build context"
            path = ROOT / source
            target = context / source
            if path.is_dir():
                shutil.copytree(path, target, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)
    built = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", "dist", "."],
        cwd=context,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    [wheel] = (context / "dist").glob("adpipe-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        [entry_points] = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        assert "adpipe = adpipe.cli:main" in archive.read(entry_points).decode()
    assert "adpipe/cli.py" in names and "adpipe/storage/sql/0001_core.sql" in names
    for role in role_names():
        if role.startswith("service:"):
            name = role.removeprefix("service:")
            assert f"adpipe/services/{name}/service.py" in names, role
    assert (ROOT / "constraints.txt").name in allowed

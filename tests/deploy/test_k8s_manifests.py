"""deploy/k8s: every manifest is valid for a pinned Kubernetes version (strict: an unknown
field fails), and the manifests agree with each other and with the applications.

- every Service, PodDisruptionBudget and workload selector matches a workload's pod
  labels; every HPA, StatefulSet serviceName, ConfigMap, Secret (and key) and PVC named
  is defined; kustomization.yaml lists every manifest but the example Secrets;
- every environment variable set for an application is one of its settings (walked from
  its pydantic settings class: an unknown TRINETRA_* variable is otherwise silently
  ignored), and the whole environment builds that class, so the values are valid too;
- the probes use paths the applications serve; the Triton pods ask for a GPU; the NATS
  configuration is deploy/nats/hub.conf, whose routes and the apps' NATS URL name exactly
  the StatefulSet's pods.
"""

from __future__ import annotations

import asyncio
import os
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]  # ships no type information
import pytest
import yaml
from prometheus_client import CollectorRegistry
from pydantic import BaseModel

from analytics.service import AnalyticsService
from analytics.settings import AnalyticsSettings
from devservices.paths import REPO_ROOT
from gateway.config import GatewaySettings
from gateway.rest.health import router as gateway_health
from trinetra.events.hub import HUB_DOMAIN
from trinetra.health import HealthServer
from trinetra.settings import ENV_NESTED_DELIMITER, ENV_PREFIX, Settings

K8S = REPO_ROOT / "deploy" / "k8s"
# The oldest version the manifests must run on (kubernetes-validate ships its schemas).
KUBERNETES_VERSION = "1.33.0"
APP_IMAGE = "registry.example.com/trinetra/app"
EXAMPLE_SECRETS = "secrets.example.yaml"
WORKLOADS = ("Deployment", "StatefulSet")

Doc = dict[str, Any]


def manifest_files() -> list[Path]:
    return sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


def documents() -> list[tuple[str, Doc]]:
    return [
        (f"{path.name}: {doc['kind']}/{doc['metadata']['name']}", doc)
        for path in manifest_files()
        for doc in yaml.safe_load_all(path.read_text())
        if doc
    ]


DOCS = documents()


def of_kind(*kinds: str) -> list[Doc]:
    return [doc for _, doc in DOCS if doc["kind"] in kinds]


def named(kind: str) -> dict[str, Doc]:
    return {doc["metadata"]["name"]: doc for doc in of_kind(kind)}


def pod_specs() -> Iterator[tuple[str, Doc]]:
    for doc in of_kind(*WORKLOADS, "Job"):
        yield doc["metadata"]["name"], doc["spec"]["template"]["spec"]


def containers() -> Iterator[tuple[str, Doc]]:
    for name, spec in pod_specs():
        for container in spec["containers"]:
            yield name, container


@pytest.mark.parametrize(("where", "doc"), DOCS, ids=[where for where, _ in DOCS])
def test_manifest_is_valid_for_the_pinned_kubernetes(where: str, doc: Doc) -> None:
    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_strict_validation_refuses_an_unknown_field() -> None:
    doc = named("Service")["gateway"]
    typo = {**doc, "spec": {**doc["spec"], "selectr": {"app": "x"}}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(typo, KUBERNETES_VERSION, strict=True)


def test_kustomization_lists_every_manifest_but_the_example_secrets() -> None:
    listed = yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"]
    expected = sorted(p.name for p in manifest_files() if p.name != EXAMPLE_SECRETS)
    assert sorted(listed) == expected


def matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def test_every_selector_matches_a_workload() -> None:
    pods = {
        d["metadata"]["name"]: d["spec"]["template"]["metadata"]["labels"]
        for d in of_kind(*WORKLOADS)
    }
    for doc in of_kind(*WORKLOADS):
        assert matches(doc["spec"]["selector"]["matchLabels"], pods[doc["metadata"]["name"]])
    selectors = [
        (f"Service/{d['metadata']['name']}", d["spec"]["selector"]) for d in of_kind("Service")
    ]
    selectors += [
        (f"PodDisruptionBudget/{d['metadata']['name']}", d["spec"]["selector"]["matchLabels"])
        for d in of_kind("PodDisruptionBudget")
    ]
    unmatched = [
        where for where, sel in selectors if not any(matches(sel, p) for p in pods.values())
    ]
    assert unmatched == []


def test_every_named_object_is_defined() -> None:
    configmaps, secrets, services = named("ConfigMap"), named("Secret"), named("Service")
    claims = named("PersistentVolumeClaim")
    problems: list[str] = []
    for hpa in of_kind("HorizontalPodAutoscaler"):
        target = hpa["spec"]["scaleTargetRef"]
        if target["name"] not in named(target["kind"]):
            problems.append(f"HPA {hpa['metadata']['name']} -> {target['name']}")
    for sts in of_kind("StatefulSet"):
        if sts["spec"]["serviceName"] not in services:
            problems.append(
                f"StatefulSet {sts['metadata']['name']} -> {sts['spec']['serviceName']}"
            )
    for workload, spec in pod_specs():
        for volume in spec.get("volumes", []):
            if "configMap" in volume and volume["configMap"]["name"] not in configmaps:
                problems.append(f"{workload} volume -> ConfigMap {volume['configMap']['name']}")
            claim = volume.get("persistentVolumeClaim", {}).get("claimName")
            if claim is not None and claim not in claims:
                problems.append(f"{workload} volume -> PVC {claim}")
        for container in spec["containers"]:
            for source in container.get("envFrom", []):
                if source["configMapRef"]["name"] not in configmaps:
                    problems.append(f"{workload} envFrom -> {source['configMapRef']['name']}")
            for var in container.get("env", []):
                ref = var.get("valueFrom", {}).get("secretKeyRef")
                if ref is None:
                    continue
                secret = secrets.get(ref["name"])
                if secret is None or ref["key"] not in secret.get("stringData", {}):
                    problems.append(
                        f"{workload} {var['name']} -> Secret {ref['name']}/{ref['key']}"
                    )
    assert problems == []


# --- the applications' settings -------------------------------------------------------

# The settings class of each application command the manifests run.
APP_SETTINGS: dict[tuple[str, ...], type[Settings]] = {
    ("python", "-m", "gateway"): GatewaySettings,
    ("python", "-m", "gateway.ingest"): GatewaySettings,
    ("python", "-m", "analytics"): AnalyticsSettings,
}


def setting_names(model: type[BaseModel], prefix: str = ENV_PREFIX) -> set[str]:
    """Every environment name `model` reads: a field, or a field inside a section."""
    names = set()
    for field, info in model.model_fields.items():
        name = prefix + field.upper()
        names.add(name)
        section = info.annotation
        if isinstance(section, type) and issubclass(section, BaseModel):
            names |= setting_names(section, name + ENV_NESTED_DELIMITER)
    return names


def container_env(container: Doc) -> dict[str, str]:
    """The container's environment, Secrets read from the example Secrets."""
    configmaps, secrets = named("ConfigMap"), named("Secret")
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(configmaps[source["configMapRef"]["name"]]["data"])
    for var in container.get("env", []):
        if "value" in var:
            env[var["name"]] = var["value"]
        else:
            ref = var["valueFrom"]["secretKeyRef"]
            env[var["name"]] = secrets[ref["name"]]["stringData"][ref["key"]]
    return env


def app_containers() -> list[tuple[str, type[Settings], dict[str, str]]]:
    found = []
    for workload, container in containers():
        if container["image"].split(":")[0] != APP_IMAGE or workload == "nats-hub-setup":
            continue
        settings = APP_SETTINGS[tuple(container["command"])]
        found.append((workload, settings, container_env(container)))
    return found


def test_every_application_is_known() -> None:
    run = {w for w, _, _ in app_containers()}
    assert {"gateway", "ingest", "analytics-blr-01-p0", "analytics-blr-01-p1"} <= run


@pytest.mark.parametrize(
    ("workload", "settings", "env"), app_containers(), ids=[w for w, _, _ in app_containers()]
)
def test_every_env_var_is_a_setting_and_the_settings_build(
    workload: str, settings: type[Settings], env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    unknown = sorted(set(env) - setting_names(settings))
    assert unknown == [], f"{workload} sets what {settings.__name__} does not read"
    for name in [n for n in list(os.environ) if n.startswith(ENV_PREFIX)]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings()  # raises, naming the field, on a value the application would refuse


def test_the_name_walk_finds_nested_settings() -> None:
    names = setting_names(GatewaySettings)
    assert {"TRINETRA_DATABASE_URL", "TRINETRA_INGEST__ENABLED", "TRINETRA_TRITON__URL"} <= names
    assert "TRINETRA_INGEST__ENABLE" not in names


def test_analytics_partitions_are_each_run_once() -> None:
    by_store: dict[str, list[tuple[int, int]]] = {}
    for doc in of_kind("Deployment"):
        if doc["metadata"]["labels"].get("app.kubernetes.io/name") != "analytics":
            continue
        assert doc["spec"]["replicas"] == 1 and doc["spec"]["strategy"]["type"] == "Recreate"
        env = container_env(doc["spec"]["template"]["spec"]["containers"][0])
        by_store.setdefault(env["TRINETRA_STORE_ID"], []).append(
            (int(env["TRINETRA_PARTITION"]), int(env["TRINETRA_PARTITIONS"]))
        )
    for store, parts in by_store.items():
        count = parts[0][1]
        assert sorted(parts) == [(i, count) for i in range(count)], store


# --- probes, GPU, NATS ------------------------------------------------------------------


def probe_paths(container: Doc) -> set[str]:
    return {
        container[probe]["httpGet"]["path"]
        for probe in ("livenessProbe", "readinessProbe", "startupProbe")
        if "httpGet" in container.get(probe, {})
    }


def test_gateway_probes_are_its_routes() -> None:
    served = {getattr(route, "path", None) for route in gateway_health.routes}
    (container,) = named("Deployment")["gateway"]["spec"]["template"]["spec"]["containers"]
    assert probe_paths(container) == {"/health", "/ready"} <= served


async def test_analytics_probes_answer_on_its_health_server() -> None:
    service = AnalyticsService(AnalyticsSettings(store_id="blr-01", health_port=0))
    assert isinstance(service.health, HealthServer)  # the server those paths are asked of

    async def ready() -> dict[str, Any]:
        return {"ready": True}

    server = HealthServer(ready, CollectorRegistry(), "127.0.0.1", 0)
    await server.start()
    try:
        for name, container in containers():
            if name.startswith("analytics-"):
                for path in probe_paths(container):
                    url = f"http://127.0.0.1:{server.port}{path}"
                    status = await asyncio.to_thread(_status, url)
                    assert status == 200, f"{name} probes {path}: {status}"
    finally:
        await server.close()


def _status(url: str) -> int:
    with urllib.request.urlopen(url, timeout=5) as response:
        return int(response.status)


def test_triton_asks_for_a_gpu_and_probes_readiness() -> None:
    (container,) = named("Deployment")["triton"]["spec"]["template"]["spec"]["containers"]
    resources = container["resources"]
    assert resources["requests"]["nvidia.com/gpu"] == resources["limits"]["nvidia.com/gpu"] == "1"
    assert container["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"


def test_nats_routes_and_clients_name_the_statefulset_pods() -> None:
    sts = named("StatefulSet")["nats"]
    pods = {f"nats-{i}.{sts['spec']['serviceName']}" for i in range(sts["spec"]["replicas"])}
    conf = named("ConfigMap")["nats-config"]["data"]["nats.conf"]
    # One configuration of the hub, the project's: the ConfigMap carries it as it is.
    assert conf == (REPO_ROOT / "deploy" / "nats" / "hub.conf").read_text()
    assert set(re.findall(r"nats-route://([\w.-]+):6222", conf)) == pods
    assert f"domain: {HUB_DOMAIN}" in conf
    server_name = re.search(r"^server_name: \$(\w+)", conf, re.M)
    (container,) = sts["spec"]["template"]["spec"]["containers"]
    assert server_name and server_name[1] in {var["name"] for var in container["env"]}
    urls = named("ConfigMap")["trinetra-hub"]["data"]["TRINETRA_NATS_URL"].split(",")
    assert {re.sub(r"^nats://|:4222$", "", url) for url in urls} == pods

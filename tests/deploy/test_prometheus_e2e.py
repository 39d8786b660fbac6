"""End to end on a real Prometheus and Alertmanager: Prometheus scrapes a running store
node and gateway every second with the committed rules, the camera is killed, and the
camera-offline alert fires and reaches the webhook through the committed Alertmanager
route.

Test-specific, and only these: the scrape and evaluation intervals (1 s), the camera
alert's `for:` (3 s instead of 2 min), Alertmanager's grouping waits (1 s), and the
webhook's URL (a receiver in this test). The expressions, labels and the route are the
committed ones.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from orchestrator.node import StoreNode
from tests.deploy.conftest import CAMERA
from tests.deploy.monitoring import (
    ALERTMANAGER_CONFIG,
    RULES_FILE,
    LocalAlertmanager,
    LocalPrometheus,
    load_yaml,
    rules_with,
    webhook_receiver,
)
from tests.gateway.helpers import RunningGateway
from tests.support.polling import eventually
from tests.support.rtsp_server import RtspServer

ALERT = "TrinetraCameraOffline"


def alertmanager_config(webhook_url: str) -> dict[str, Any]:
    config: dict[str, Any] = load_yaml(ALERTMANAGER_CONFIG)
    [receiver] = config["receivers"]
    [webhook] = receiver["webhook_configs"]
    webhook["url"] = webhook_url
    config["route"].update(group_wait="1s", group_interval="1s")
    return config


def prometheus_config(node_port: int, gateway_port: int, alertmanager_port: int) -> dict[str, Any]:
    return {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "alerting": {
            "alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{alertmanager_port}"]}]}]
        },
        # The jobs as production names them (deploy/prometheus/prometheus.yml).
        "scrape_configs": [
            {"job_name": "store-node", "static_configs": [{"targets": [f"127.0.0.1:{node_port}"]}]},
            {"job_name": "gateway", "static_configs": [{"targets": [f"127.0.0.1:{gateway_port}"]}]},
        ],
    }


async def camera_alerts(prometheus: LocalPrometheus) -> list[dict[str, Any]]:
    # Off the event loop: it also serves the endpoints Prometheus is scraping.
    alerts = await asyncio.to_thread(prometheus.alerts)
    return [a for a in alerts if a["labels"]["alertname"] == ALERT]


async def test_a_killed_camera_fires_camera_offline_and_reaches_the_webhook(
    store_node: StoreNode, gateway: RunningGateway, rtsp_server: RtspServer, tmp_path: Path
) -> None:
    with (
        webhook_receiver() as (webhook_url, notifications),
        LocalAlertmanager(alertmanager_config(webhook_url), tmp_path / "am") as alertmanager,
        LocalPrometheus(
            prometheus_config(store_node.health.port, gateway.port, alertmanager.port),
            tmp_path / "prometheus",
            rules=rules_with({ALERT: {"for": "3s"}}),
        ) as prometheus,
    ):

        async def query(expr: str) -> list[dict[str, Any]]:
            return await asyncio.to_thread(prometheus.query, expr)

        async def both_up() -> bool:
            up = {s["metric"]["job"]: s["value"][1] for s in await query("up")}
            return up == {"store-node": "1", "gateway": "1"}

        await eventually(both_up, 30, interval_s=0.5, message="both targets scraped")
        live = f'trinetra_camera_state{{job="store-node", camera="{CAMERA}", state="live"}} == 1'
        await eventually(lambda: query(live), 30, interval_s=0.5, message="the camera live")
        # The gateway's ingest is scraped too: the node's events got stored.
        await eventually(
            lambda: query('sum(trinetra_gateway_ingest_stored_total{job="gateway"}) > 0'),
            60,
            interval_s=0.5,
            message="stored events counted by the gateway",
        )
        await asyncio.sleep(4)  # past the alert's `for:`, with the camera still live
        assert await camera_alerts(prometheus) == []

        await asyncio.to_thread(rtsp_server.kill)

        async def firing() -> dict[str, Any] | None:
            alerts = [a for a in await camera_alerts(prometheus) if a["state"] == "firing"]
            return alerts[0] if alerts else None

        alert = await eventually(firing, 60, interval_s=0.5, message=f"{ALERT} firing")
        assert alert["labels"] == {
            "alertname": ALERT,
            "severity": "high",
            "job": "store-node",
            "instance": f"127.0.0.1:{store_node.health.port}",
            "camera": CAMERA,
        }
        assert alert["annotations"]["summary"].startswith(f"Camera {CAMERA} offline")

        def delivered() -> dict[str, Any] | None:
            for body in notifications:
                for sent in body["alerts"]:
                    if sent["labels"]["alertname"] == ALERT and sent["status"] == "firing":
                        return dict(sent)
            return None

        sent = await eventually(delivered, 30, interval_s=0.2, message="the webhook called")
        assert sent["labels"]["camera"] == CAMERA
        assert notifications[0]["receiver"] == "operations-webhook"

        # Every committed rule evaluated on these real series without an error.
        groups = (await asyncio.to_thread(prometheus.api, "rules"))["groups"]
        rules = [rule for group in groups for rule in group["rules"]]
        assert len(rules) == sum(len(g["rules"]) for g in load_yaml(RULES_FILE)["groups"])
        assert [(r["name"], r["lastError"]) for r in rules if r["health"] != "ok"] == []

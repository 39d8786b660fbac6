"""The gateway's live view relay: `POST /api/v1/live/{camera}/offer` checks the caller
and the request, forwards the offer to the store node running the camera and relays
its answer (a real node on real Triton and NATS, a real gateway on PostgreSQL) or its
refusal; a node that cannot be reached is a 503 that says so."""

from __future__ import annotations

from devservices.ports import free_port
from tests.gateway.dashboard.artifacts import save_frame
from tests.gateway.helpers import STORE, RunningGateway, running_gateway, settings, token
from tests.gateway.helpers import wait_schema as schema_ready
from tests.orchestrator.live.helpers import (
    answered_offer,
    camera,
    node_url,
    store_node,
    viewer,
)
from tests.support.media import media_path
from tests.support.nats_server import NatsServer
from tests.support.triton_server import LocalTriton
from trinetra.config.camera import CameraConfig

REGISTER = "mutation ($c: JSON!) { registerCamera(config: $c) { id } }"


async def register(gateway: RunningGateway, config: CameraConfig) -> None:
    await gateway.data(REGISTER, {"c": config.model_dump(mode="json")}, scopes=("operator",))


def viewer_auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {token('viewer')}"}


async def test_offer_is_relayed_to_the_store_node(
    triton_server: LocalTriton, nats_server: NatsServer, database_url: str
) -> None:
    door = camera("door", str(media_path("vtest.avi")), fps=5)
    # Registered but disabled: the camera registry keeps it off the node.
    ghost = camera("ghost", str(media_path("vtest.avi")), fps=5).model_copy(
        update={"enabled": False}
    )
    async with store_node(triton_server.grpc_url, nats_server.url, [door], STORE) as node:
        gateway_settings = settings(
            database_url, nats_server.url, node_urls={STORE: node_url(node)}
        )
        async with running_gateway(gateway_settings) as gateway:
            await schema_ready(gateway.gateway)
            await register(gateway, door)
            await register(gateway, ghost)
            offer_url = f"{gateway.url}/api/v1/live/door/offer"

            async with viewer() as peer:
                sdp = await peer.offer()
                unauthenticated = await gateway.http.post(
                    offer_url, json={"sdp": sdp, "type": "offer"}
                )
                assert unauthenticated.status_code == 401
                await peer.accept(await answered_offer(offer_url, sdp, viewer_auth()))
                [image] = await peer.frames(1, timeout_s=60)
                assert image.shape == (576, 768, 3) and image.std() > 20  # the camera's video
                save_frame(image, "live-relay-frame.png")  # the frame the browser would show
                assert node.live.viewers("door") == 1

            async def offer(camera_id: str, sdp: str) -> tuple[int, dict[str, object]]:
                response = await gateway.http.post(
                    f"{gateway.url}/api/v1/live/{camera_id}/offer",
                    json={"sdp": sdp, "type": "offer"},
                    headers=viewer_auth(),
                )
                return response.status_code, response.json()

            status, body = await offer("nope", "v=0")  # not registered: the gateway says so
            assert status == 404 and "not registered" in str(body)
            status, body = await offer("ghost", "v=0")  # the node runs no such camera
            assert status == 404 and "not run by this node" in str(body)
            status, body = await offer("door", "v=0\r\nm=bogus")  # relayed as the node said
            assert (status, body) == (
                400,
                {
                    "status": "error",
                    "error": {
                        "code": "INVALID_SDP",
                        "message": "the SDP offer could not be answered",
                    },
                },
            )

        # A node that is down: the gateway says it cannot reach it.
        unreachable = settings(
            database_url, nats_server.url, node_urls={STORE: f"http://127.0.0.1:{free_port()}"}
        )
        async with running_gateway(unreachable) as gateway:
            await schema_ready(gateway.gateway)
            response = await gateway.http.post(
                f"{gateway.url}/api/v1/live/door/offer",
                json={"sdp": "v=0", "type": "offer"},
                headers=viewer_auth(),
            )
            assert response.status_code == 503, response.text
            assert response.json()["error"] == {
                "code": "UNAVAILABLE",
                "message": f"the store node of store {STORE!r} is unreachable",
            }


async def test_no_store_node_configured_is_a_clear_503(gateway: RunningGateway) -> None:
    await register(gateway, camera("door", str(media_path("vtest.avi")), fps=5))
    response = await gateway.http.post(
        f"{gateway.url}/api/v1/live/door/offer",
        json={"sdp": "v=0", "type": "offer"},
        headers=viewer_auth(),
    )
    assert response.status_code == 503
    assert "no store node is configured" in response.json()["error"]["message"]
    invalid = await gateway.http.post(
        f"{gateway.url}/api/v1/live/door/offer", json={"sdp": "v=0"}, headers=viewer_auth()
    )
    assert invalid.status_code == 422  # the gateway's own request validation

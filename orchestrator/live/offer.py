"""`POST /live/{camera_id}/offer` on the node's operational HTTP server: the JSON body
`{"sdp": ..., "type": "offer"}` in, the answer `{"sdp": ..., "type": "answer"}` out.

Errors are `{"status": "error", "error": {"code", "message"}}` (the gateway's shape, so
it can relay them as they are): 400 for a body or SDP that cannot be used, 404 for a
camera this node does not run, 503 when the camera is not live or has its most viewers.
Messages are fixed texts: what aiortc or the parser said stays in the node's log.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from orchestrator.live.webrtc import (
    CameraNotLiveError,
    InvalidOfferError,
    LiveViewAnswerer,
    UnknownCameraError,
    ViewerLimitError,
)

log = logging.getLogger(__name__)

JsonReply = tuple[int, dict[str, Any]]
MAX_SDP_CHARS = 100_000


class OfferBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sdp: str = Field(min_length=1, max_length=MAX_SDP_CHARS, description="The SDP offer.")
    type: Literal["offer"] = Field(description="Always 'offer'.")


def error_reply(status: int, code: str, message: str) -> JsonReply:
    return status, {"status": "error", "error": {"code": code, "message": message}}


class LiveOfferEndpoint:
    def __init__(self, answerer: LiveViewAnswerer) -> None:
        self.answerer = answerer

    async def handle(self, camera_id: str, body: bytes) -> JsonReply:
        try:
            offer = OfferBody.model_validate_json(body)
        except ValidationError:
            return error_reply(
                400, "BAD_REQUEST", 'the body must be JSON {"sdp": "<SDP offer>", "type": "offer"}'
            )
        try:
            answer = await self.answerer.answer(camera_id, offer.sdp)
        except UnknownCameraError:
            return error_reply(404, "NOT_FOUND", f"camera {camera_id!r} is not run by this node")
        except CameraNotLiveError:
            return error_reply(503, "CAMERA_NOT_LIVE", f"camera {camera_id!r} is not live")
        except ViewerLimitError:
            return error_reply(
                503, "VIEWER_LIMIT", f"camera {camera_id!r} has its most live viewers"
            )
        except InvalidOfferError as error:
            log.info(
                "live offer refused",
                extra={"camera": camera_id, "error": repr(error.__cause__)},
            )
            return error_reply(400, "INVALID_SDP", "the SDP offer could not be answered")
        return 200, {"sdp": answer.sdp, "type": answer.type}

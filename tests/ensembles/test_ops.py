"""The pure operations behind the python-backend models."""

import cv2
import numpy as np
import pytest

from ensembles.ops.align import ARCFACE_TEMPLATE, similarity_transform
from ensembles.ops.boxes import nms
from ensembles.ops.image import FrameError, decode_image, encoded_image_size, letterbox


def test_encoded_size_is_read_from_headers() -> None:
    image = np.zeros((37, 91, 3), np.uint8)
    for ext in (".jpg", ".png"):
        ok, data = cv2.imencode(ext, image)
        assert ok
        assert encoded_image_size(data.tobytes()) == (91, 37)
    assert encoded_image_size(b"nope") is None


def test_decode_refuses_oversized_before_decoding() -> None:
    _, data = cv2.imencode(".png", np.zeros((100, 200, 3), np.uint8))
    with pytest.raises(FrameError, match="exceeds"):
        decode_image(data.tobytes(), max_pixels=100 * 199)
    assert decode_image(data.tobytes(), max_pixels=100 * 200).shape == (100, 200, 3)


def test_letterbox_maps_points_back() -> None:
    image = np.zeros((300, 600, 3), np.uint8)
    image[..., 0] = 255  # blue in BGR
    fitted, box = letterbox(image, 640)
    assert fitted.shape == (640, 640, 3)
    assert fitted[320, 320].tolist() == [0, 0, 255]  # RGB now
    assert fitted[0, 0].tolist() == [114, 114, 114]  # padding
    points = np.array([[0.0, 0.0, 600.0, 300.0]], np.float32)
    model_space = points * box.scale + np.array([box.pad_x, box.pad_y] * 2, np.float32)
    np.testing.assert_allclose(box.to_frame(model_space), points, atol=1e-4)


def test_nms_keeps_the_best_of_overlapping_boxes() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], np.float32)
    keep = nms(boxes, np.array([0.6, 0.9, 0.5], np.float32), iou=0.5)
    assert keep.tolist() == [1, 2]


def test_similarity_transform_recovers_rotation_scale_shift() -> None:
    angle, scale, shift = np.deg2rad(20), 1.7, np.array([13.0, -4.0])
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    src = ARCFACE_TEMPLATE.astype(np.float64)
    dst = (scale * src @ rotation.T + shift).astype(np.float32)
    matrix = similarity_transform(src.astype(np.float32), dst)
    np.testing.assert_allclose(matrix[:, :2], scale * rotation, atol=1e-5)
    np.testing.assert_allclose(matrix[:, 2], shift, atol=1e-4)

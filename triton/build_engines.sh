#!/usr/bin/env bash
# Build TensorRT engines from the ONNX files, on the target GPU (engines are specific to
# the GPU model and TensorRT version, so they are never built elsewhere or committed).
#
#   docker compose run --rm engine-builder            # or, inside any TensorRT container:
#   triton/build_engines.sh [MODEL_REPOSITORY] [VERSION]
#
# Writes <model>/<version>/model.plan next to model.onnx, FP16, with dynamic batch
# profiles matching configs/tensorrt.pbtxt. Serve them with
# `tritonserver --model-config-name=tensorrt`.
set -euo pipefail

repo=${1:-/models}
version=${2:-1}
command -v trtexec >/dev/null || { echo "error: trtexec not found (run inside nvcr.io/nvidia/tensorrt or the Triton image)" >&2; exit 1; }

build() { # model input-name chw max-batch
  local model=$1 input=$2 chw=$3 max=$4 onnx="$repo/$1/$version/model.onnx"
  [ -f "$onnx" ] || { echo "error: $onnx missing (run make models)" >&2; exit 1; }
  echo "building $model v$version (batch 1..$max, FP16)"
  trtexec --onnx="$onnx" --saveEngine="$repo/$model/$version/model.plan" --fp16 \
    --minShapes="$input:1x$chw" --optShapes="$input:$(( max / 2 ))x$chw" --maxShapes="$input:${max}x$chw"
}

build person_detector images 3x640x640 16
build face_detector input.1 3x640x640 16
build face_embedder input.1 3x112x112 64
echo "engines written under $repo/*/$version/model.plan"

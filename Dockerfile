# The TRINETRA Python applications (store node, identity service, gateway): one image,
# the command picks the application (see docker-compose.yml).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
RUN apt-get update && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 ffmpeg \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/trinetra
COPY pyproject.toml README.md ./
COPY orchestrator ./orchestrator
COPY gateway ./gateway
COPY ensembles ./ensembles
COPY sql ./sql
RUN pip install --no-cache-dir .
USER nobody

# The TRINETRA Python applications (store node, identity service, analytics, gateway): one image,
# the command picks the application (see docker-compose.yml).
# The dashboard's chart library, from the pinned npm lock file (no CDN at run time).
FROM node:20-bookworm-slim AS dashboard-assets
WORKDIR /build
COPY gateway/dashboard/package.json gateway/dashboard/package-lock.json ./
RUN npm ci --no-audit --no-fund

FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
RUN apt-get update && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 ffmpeg \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/trinetra
COPY pyproject.toml README.md ./
COPY trinetra ./trinetra
COPY orchestrator ./orchestrator
COPY identity ./identity
COPY analytics ./analytics
COPY gateway ./gateway
COPY --from=dashboard-assets /build/node_modules/echarts/dist/echarts.min.js ./gateway/dashboard/static/
COPY ensembles ./ensembles
# gateway/sql is a link to sql/: the wheel carries the migrations as package data
COPY sql ./sql
RUN pip install --no-cache-dir .
USER nobody

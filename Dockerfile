# Two images from one file:
#   docker build --target server -t tidewatch-server .   (collector, api, dashboards, migrate)
#   docker build --target agent  -t tidewatch-agent  .   (agent only: grpcio, protobuf, psutil, docker)
FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY proto ./proto
COPY common ./common
COPY agent ./agent
COPY collector ./collector
COPY api ./api
COPY dashboards ./dashboards
COPY sql ./sql

FROM base AS agent
RUN pip install . && useradd --system --no-create-home tidewatch-agent
USER tidewatch-agent
ENTRYPOINT ["tidewatch-agent"]

FROM base AS server
RUN pip install '.[server]' && useradd --system --no-create-home tidewatch
ENV TIDEWATCH_SQL_DIR=/app/sql
USER tidewatch

# One image for every streamscore role; the command picks it (docker-compose.yml).
# Build stage: resolve and install into a virtual environment. Final stage: that
# environment only, no pip, no compilers, no tests, run as an unprivileged user.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/streamscore
WORKDIR /src
COPY pyproject.toml README.md ./
COPY core ./core
COPY consumers ./consumers
COPY producers ./producers
COPY streamscore ./streamscore
COPY api ./api
RUN /opt/streamscore/bin/pip install . \
 && /opt/streamscore/bin/pip uninstall -y pip setuptools wheel

FROM python:3.11-slim
RUN useradd --system --uid 10001 --user-group --home-dir /app --shell /usr/sbin/nologin streamscore \
 && mkdir -p /app /data \
 && chown streamscore:streamscore /app /data
COPY --from=build /opt/streamscore /opt/streamscore
ENV PATH=/opt/streamscore/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    STREAMSCORE_LOGGING__FORMAT=json \
    STREAMSCORE_STATE_DIR=/data \
    STREAMSCORE_REGISTRY__PATH=/data/registry
WORKDIR /app
USER streamscore
# /health on the role's port: api 8000, scorer 8001, drift 8002, monitor 8003, retrainer
# 8004. HEALTH_PORT picks it (docker-compose.yml sets a probe per service instead).
EXPOSE 8000 8001 8002 8003 8004
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('HEALTH_PORT', '8000') + '/health', timeout=2)" || exit 1
ENTRYPOINT ["streamscore"]
CMD ["--help"]

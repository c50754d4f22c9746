# One image for every streamscore process; the command picks the role.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY core ./core
COPY consumers ./consumers
COPY producers ./producers
COPY streamscore ./streamscore
COPY api ./api
COPY tools ./tools
RUN pip install --no-cache-dir .
ENV STREAMSCORE_LOGGING__FORMAT=json
# For `streamscore serve` (the HTTP API on port 8000): 200 while a production version is
# loaded, 503 (unhealthy) otherwise. Other roles serve their own /health on their ports.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('STREAMSCORE_API__PORT', '8000') + '/health', timeout=2)" || exit 1
ENTRYPOINT ["streamscore"]
CMD ["--help"]

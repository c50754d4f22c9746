# One image for every streamscore process; the command picks the role.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY core ./core
COPY consumers ./consumers
COPY producers ./producers
COPY streamscore ./streamscore
COPY tools ./tools
RUN pip install --no-cache-dir .
ENV STREAMSCORE_LOGGING__FORMAT=json
ENTRYPOINT ["streamscore"]
CMD ["--help"]

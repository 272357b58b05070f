# Klaster app image: `klaster serve` (default), `klaster worker`, `klaster migrate`.
# Build: docker build -t klaster .   Run the whole shape: docker compose up -d (see docs/deployment.md)

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/venv
# Dependencies first (cached while only the code changes), at the versions of the lock the
# test suite passed with (requirements.lock, refreshed by `python3 run.py lock`).
COPY requirements.lock requirements.lock
COPY pyproject.toml README.md ./
COPY matching matching
COPY market market
COPY web web
COPY migrations migrations
# A regular (not editable) install: templates, static files with the vendored htmx
# (web/static/htmx-*.min.js, ws-*.min.js), translations and migrations are package data.
RUN /opt/venv/bin/pip install -c requirements.lock . \
 && /opt/venv/bin/python -c "import web.templating as t, pathlib; \
assert any(pathlib.Path(t.STATIC_DIR).glob('htmx-*.min.js')), 'vendored htmx missing'"

FROM python:3.11-slim
RUN groupadd --system --gid 10001 klaster \
 && useradd --system --uid 10001 --gid klaster --home-dir /app --shell /usr/sbin/nologin klaster \
 && mkdir -p /app/data && chown klaster:klaster /app/data
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    KLASTER_DATA_DIR=/app/data \
    KLASTER_LOG_FORMAT=json
WORKDIR /app
USER klaster:klaster
EXPOSE 8000
# Liveness of the web process; compose overrides it per service (worker, migrate).
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8000/health', timeout=2)"]
CMD ["klaster", "serve", "--host", "0.0.0.0", "--port", "8000", "--proxy-headers"]

# Duban: one process, one worker. SQLite on the /data volume by default; set DATABASE_URL to
# postgresql+asyncpg://user:password@host/db for production. Migrations run at every start.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# `pip install .` installs the dependencies and needs the package itself to do so.
COPY pyproject.toml ./
COPY app/ app/
RUN pip install --no-cache-dir .

COPY migrations/ migrations/
COPY seed/ seed/
COPY alembic.ini ./

RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin duban \
    && mkdir -p /data && chown duban:duban /data

# `python -m app.serve` runs from /app, so alembic.ini, migrations/ and seed/ are found
# beside the code (app.config.ROOT); SEED_DIR says so explicitly.
ENV DATABASE_URL=sqlite+aiosqlite:////data/duban.db \
    SEED_DIR=/app/seed \
    DUBAN_HOST=0.0.0.0 \
    DUBAN_PORT=8000

VOLUME ["/data"]
USER duban
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; port = os.environ.get('DUBAN_PORT', '8000'); sys.exit(0 if urllib.request.urlopen(f'http://127.0.0.1:{port}/api/v1/health', timeout=4).status == 200 else 1)"]

CMD ["python", "-m", "app.serve"]

# slawatch: API + scheduler on port 8000. Data (the SQLite default) lives in the /data volume;
# set SLAWATCH_DATABASE_URL=postgresql://... for PostgreSQL. Config: mount /data/slawatch.toml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    SLAWATCH_DATABASE_URL=sqlite:////data/slawatch.db

RUN useradd --system --uid 10001 --home-dir /data --create-home slawatch

WORKDIR /opt/slawatch
COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY migrations ./migrations
COPY templates ./templates
COPY static ./static
# Editable, so the code finds migrations/, templates/ and static/ beside it.
RUN pip install -e .

USER slawatch
WORKDIR /data
VOLUME /data
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]

CMD ["sh", "-c", "slawatch migrate && exec slawatch serve --host 0.0.0.0 --port 8000"]

# syntax=docker/dockerfile:1.7
# Gradline server image (docs/operations.md).
#   node    : front-end libraries from npm (package-lock.json), never copied into the repo
#   builder : wheels for requirements/production.txt, built once
#   runtime : slim Python, non-root user, static files collected with production settings;
#             the same image runs web (uvicorn), Celery workers, Celery beat and migrations.

ARG PYTHON_VERSION=3.11
ARG NODE_VERSION=20

# --- front-end packages ----------------------------------------------------------
FROM node:${NODE_VERSION}-bookworm-slim AS node
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error

# --- Python wheels -----------------------------------------------------------------
FROM python:${PYTHON_VERSION}-slim-bookworm AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY requirements/ requirements/
RUN pip wheel --wheel-dir /wheels -r requirements/production.txt

# --- runtime -------------------------------------------------------------------------
FROM python:${PYTHON_VERSION}-slim-bookworm AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    DJANGO_SETTINGS_MODULE=config.settings.production \
    GRADLINE_VAR_DIR=/app/var \
    HOST=0.0.0.0 \
    PORT=8000

RUN groupadd --system --gid 10001 gradline \
 && useradd --system --uid 10001 --gid gradline --home-dir /app --shell /usr/sbin/nologin gradline

WORKDIR /app

# Install from the builder's wheels without copying them into a layer.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    --mount=type=bind,source=requirements,target=/tmp/requirements \
    pip install --no-index --find-links=/wheels -r /tmp/requirements/production.txt

# Only the dist folders that settings.STATICFILES_DIRS serves under /static/vendor/.
COPY --from=node /src/node_modules/htmx.org/dist node_modules/htmx.org/dist
COPY --from=node /src/node_modules/uplot/dist node_modules/uplot/dist
COPY --from=node /src/node_modules/vega/build node_modules/vega/build
COPY --from=node /src/node_modules/vega-lite/build node_modules/vega-lite/build
COPY --from=node /src/node_modules/vega-embed/build node_modules/vega-embed/build
COPY --from=node /src/node_modules/three/build node_modules/three/build

COPY manage.py ./
COPY config/ config/
COPY apps/ apps/
COPY templates/ templates/
COPY static/ static/
COPY sdk/ sdk/
# The server imports the sweep engines from the SDK (gradline.sweep_engines), as the
# offline agent does; the SDK's own dependencies are in requirements/base.txt.
ENV PYTHONPATH=/app/sdk

# The SDK wheel this server offers at /sdk/ (pip install <server>/sdk/files/…), built from
# the same commit as the server so the two always match.
ENV SDK_DIST_DIR=/app/sdk-dist
RUN python -m apps.sdkindex.build --out /app/sdk-dist

# Hashed, compressed static files for whitenoise (CompressedManifestStaticFilesStorage).
# The key and database URL exist for this step only: collectstatic never connects, and a
# set DATABASE_URL keeps the settings from starting the embedded PostgreSQL.
RUN SECRET_KEY=collectstatic-only-build-key-not-used-at-runtime-0123456789abcdef \
    DATABASE_URL=postgresql://build@localhost:5432/build \
    python manage.py collectstatic --noinput --verbosity 0 \
 && mkdir -p /app/var/media \
 && chown -R gradline:gradline /app/var

USER gradline
EXPOSE 8000

# Web by default; docker-compose.yml runs the worker, beat and migrations from this image.
# Migrations run once per deploy (the compose `migrate` service), not in every web process.
CMD ["python", "-m", "config.serve", "--host", "0.0.0.0", "--no-migrate"]

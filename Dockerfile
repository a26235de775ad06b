# The site: gunicorn, static files by whitenoise, migrations on start (deploy/start.sh).
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY pyproject.toml ./
RUN pip install --no-cache-dir . && rm -rf build
COPY manage.py ./
COPY romm_site ./romm_site
COPY accounts ./accounts
COPY devices ./devices
COPY library ./library
COPY templates ./templates
COPY deploy/start.sh deploy/healthcheck.py deploy/gunicorn.conf.py ./deploy/
# collectstatic needs settings, not secrets: a throw-away key for this one command.
RUN SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput
RUN useradd --system --uid 1000 romm && mkdir -p /data && chown romm /data
USER romm
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 CMD ["python", "deploy/healthcheck.py"]
CMD ["deploy/start.sh"]

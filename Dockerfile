FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml ./
RUN pip install --no-cache-dir . && rm -rf build
COPY manage.py ./
COPY romm_site ./romm_site
COPY accounts ./accounts
COPY templates ./templates
RUN python manage.py collectstatic --noinput
RUN useradd --system --uid 1000 romm && mkdir -p /data && chown romm /data
USER romm
EXPOSE 8000
CMD ["sh", "-c", "python manage.py migrate --noinput && exec gunicorn romm_site.wsgi --bind 0.0.0.0:8000 --workers 2 --access-logfile -"]

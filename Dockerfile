# syntax=docker/dockerfile:1
# SchemaAdmin's image: the web app (gunicorn) and the procrastinate worker run from it; see docker-compose.yml.

# Front-end libraries from npm (package-lock.json). Only node_modules moves on: the runtime needs no node.
FROM node:24-slim AS frontend
WORKDIR /build
COPY package.json package-lock.json ./
COPY frontend ./frontend
# esbuild (a devDependency) bundles the SQL editor into node_modules/.schemaadmin-build/, then leaves.
RUN npm ci --no-audit --no-fund --loglevel=error && npm run build && npm prune --omit=dev

FROM python:3.13-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

# Dependencies first, read from pyproject.toml alone, so a code change does not reinstall them.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY --from=frontend /build/node_modules ./node_modules
COPY . .

# collectstatic only imports settings: the URL and key satisfy them and are never used.
RUN pip install --no-deps . \
    && DATABASE_URL=postgresql://collectstatic@127.0.0.1:1/unused DJANGO_SECRET_KEY=collectstatic-only \
       python manage.py collectstatic --noinput \
    && useradd --system --uid 10001 --create-home --home-dir /home/schemaadmin --shell /usr/sbin/nologin schemaadmin

USER schemaadmin
EXPOSE 8000
CMD ["sh", "-c", "python manage.py migrate --noinput && exec gunicorn -c config/gunicorn.conf.py"]

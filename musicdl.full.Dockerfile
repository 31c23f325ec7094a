# musicdl, full variant: the reference image the slim one is measured against.
#
# One runtime stage on python:3.12-bookworm with the package set the project
# shipped before the slim image existed (Debian's complete ffmpeg, compilers, git).
# The venv is installed in a builder stage only so that the proxy CA handed to
# pip never lands in a layer of the image; the app layout, user, entrypoint and
# test stage are the same as the slim image's, so both run the identical suite.

ARG BASE_IMAGE=python:3.12-bookworm

FROM ${BASE_IMAGE} AS builder
COPY build-ca/ /tmp/build-ca/
RUN python3 -m venv /opt/pip-tools \
 && if [ -s /tmp/build-ca/ca.pem ]; then export PIP_CERT=/tmp/build-ca/ca.pem; fi \
 && /opt/pip-tools/bin/pip install --no-cache-dir --disable-pip-version-check --upgrade pip \
 && python3 -m venv /opt/venv
COPY requirements.txt /tmp/requirements.txt
RUN if [ -s /tmp/build-ca/ca.pem ]; then export PIP_CERT=/tmp/build-ca/ca.pem; fi \
 && /opt/pip-tools/bin/pip --python /opt/venv/bin/python install --no-cache-dir \
      --disable-pip-version-check -r /tmp/requirements.txt

FROM builder AS test-builder
COPY test-requirements.txt /tmp/test-requirements.txt
RUN if [ -s /tmp/build-ca/ca.pem ]; then export PIP_CERT=/tmp/build-ca/ca.pem; fi \
 && /opt/pip-tools/bin/pip --python /opt/venv/bin/python install --no-cache-dir \
      --disable-pip-version-check -r /tmp/test-requirements.txt

FROM ${BASE_IMAGE} AS runtime
ARG DEBIAN_FRONTEND=noninteractive
ARG APP_UID=568
ARG APP_GID=568
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      ca-certificates curl ffmpeg openssl aria2 g++ git python3-cffi libffi-dev zlib1g-dev \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --gid "${APP_GID}" musicdl \
 && useradd --uid "${APP_UID}" --gid "${APP_GID}" --no-create-home --home-dir /download \
      --shell /usr/sbin/nologin musicdl \
 && mkdir -p /download /scripts \
 && chown musicdl:musicdl /download
COPY --from=builder /opt/venv /opt/venv
COPY docker/musicdl-entrypoint /usr/local/bin/musicdl-entrypoint
COPY config.yaml /scripts/config.yaml
COPY download.py config.yaml /app/
COPY core/ /app/core/
ENV PATH=/opt/venv/bin:${PATH} \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    CONFIG_PATH=/scripts/config.yaml
LABEL org.opencontainers.image.title="musicdl" \
      org.opencontainers.image.description="Spotify library to tagged audio files and M3U playlists" \
      org.opencontainers.image.licenses="MIT"
USER musicdl
WORKDIR /download
VOLUME ["/download"]
ENTRYPOINT ["/usr/local/bin/musicdl-entrypoint"]

FROM runtime AS test
COPY --from=test-builder /opt/venv /opt/venv
COPY pytest.ini /app/
COPY tests/ /app/tests/
WORKDIR /app

# The last stage is the default target: a plain `docker build` yields the runtime image.
FROM runtime

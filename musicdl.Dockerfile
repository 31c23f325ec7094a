# musicdl, slim variant (the default image).
#
#   ffmpeg   -> an audio-only ffmpeg/ffprobe built from Debian's own source
#   aria2    -> aria2c from Debian's own source, without Metalink (no libxml2/ICU)
#   builder  -> the application virtualenv (no pip, no setuptools inside it)
#   runtime  -> what ships: base + runtime libraries + venv + app   (default target)
#   test     -> runtime + pytest + tests, used by `cargo xtask docker-test` only
#
# Build it with `cargo xtask docker-build`, which picks the base (official or a
# stand-in built from Debian packages) and adds build-ca/ca.pem to the context.
# The CA only ever reaches the builder stages.

ARG BASE_IMAGE=python:3.12-slim

FROM ${BASE_IMAGE} AS ffmpeg
ARG DEBIAN_FRONTEND=noninteractive
COPY docker/debian-source.sh docker/ffmpeg-build.sh /usr/local/sbin/
RUN sh /usr/local/sbin/ffmpeg-build.sh /opt/ffmpeg

FROM ${BASE_IMAGE} AS aria2
ARG DEBIAN_FRONTEND=noninteractive
COPY docker/debian-source.sh docker/aria2-build.sh /usr/local/sbin/
RUN sh /usr/local/sbin/aria2-build.sh /opt/aria2

FROM ${BASE_IMAGE} AS builder
ARG DEBIAN_FRONTEND=noninteractive
COPY build-ca/ /tmp/build-ca/
RUN python3 -m venv /opt/pip-tools \
 && if [ -s /tmp/build-ca/ca.pem ]; then export PIP_CERT=/tmp/build-ca/ca.pem; fi \
 && /opt/pip-tools/bin/pip install --no-cache-dir --disable-pip-version-check --upgrade pip \
 && python3 -m venv --without-pip /opt/venv
COPY requirements.txt /tmp/requirements.txt
RUN if [ -s /tmp/build-ca/ca.pem ]; then export PIP_CERT=/tmp/build-ca/ca.pem; fi \
 && /opt/pip-tools/bin/pip --python /opt/venv/bin/python install --no-cache-dir \
      --disable-pip-version-check -r /tmp/requirements.txt \
 && find /opt/venv/lib -depth -type d -name tests -path '*/site-packages/*/tests' -exec rm -rf {} +

FROM builder AS test-builder
COPY test-requirements.txt /tmp/test-requirements.txt
RUN if [ -s /tmp/build-ca/ca.pem ]; then export PIP_CERT=/tmp/build-ca/ca.pem; fi \
 && /opt/pip-tools/bin/pip --python /opt/venv/bin/python install --no-cache-dir \
      --disable-pip-version-check -r /tmp/test-requirements.txt

FROM ${BASE_IMAGE} AS runtime
ARG DEBIAN_FRONTEND=noninteractive
ARG APP_UID=568
ARG APP_GID=568
# Runtime libraries only: the codec libraries the ffmpeg stage linked against and
# CA roots for HTTPS. (aria2c needs only OpenSSL and zlib, which the base has.)
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      ca-certificates libmp3lame0 libopus0 libvorbis0a libvorbisenc2 \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log
RUN groupadd --gid "${APP_GID}" musicdl \
 && useradd --uid "${APP_UID}" --gid "${APP_GID}" --no-create-home --home-dir /download \
      --shell /usr/sbin/nologin musicdl \
 && mkdir -p /download /scripts \
 && chown musicdl:musicdl /download
COPY --from=ffmpeg /opt/ffmpeg/bin/ffmpeg /opt/ffmpeg/bin/ffprobe /usr/local/bin/
COPY --from=aria2 /opt/aria2/bin/aria2c /usr/local/bin/
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

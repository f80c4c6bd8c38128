# scheduler0 node image: `scheduler0-supervisor` as PID 1, its data in a volume.
#
#   docker build -t scheduler0 .
#   docker run -p 9091:9091 -v s0data:/var/lib/scheduler0 scheduler0
#
# BASE_IMAGE must provide python3 (3.9+) with venv and ca-certificates; the build and the
# runtime stages use the same one, so the virtual environment copied between them finds its
# interpreter. Behind a TLS-intercepting proxy, put the proxy's CA certificate(s) as *.crt in
# docker/extra-ca/ before building: the build stage trusts them for pip; the image does not
# keep them.
ARG BASE_IMAGE=python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS build
COPY docker/extra-ca/ /tmp/extra-ca/
# pip trusts certifi's bundle, not the system's: give it the system bundle plus the extras.
RUN cat /etc/ssl/certs/ca-certificates.crt /tmp/extra-ca/*.crt > /tmp/pip-ca.pem 2>/dev/null \
        || cp /etc/ssl/certs/ca-certificates.crt /tmp/pip-ca.pem \
    && python3 -m venv /opt/scheduler0
ENV PIP_CERT=/tmp/pip-ca.pem PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
COPY setup.py setup.cfg README.md /src/
COPY scheduler0 /src/scheduler0
RUN /opt/scheduler0/bin/pip install --quiet /src \
    && /opt/scheduler0/bin/scheduler0 version

FROM ${BASE_IMAGE}
# /etc/scheduler0: where a cluster's shared secrets file is mounted (docker-compose.yml).
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/scheduler0 --create-home \
        --shell /usr/sbin/nologin scheduler0 \
    && install -d -o scheduler0 -g scheduler0 -m 0700 /etc/scheduler0
COPY --from=build /opt/scheduler0 /opt/scheduler0
# The example receiver, for the compose file's optional `receiver` service.
COPY examples/python-receiver/receiver.py /opt/scheduler0/receiver.py
ENV PATH=/opt/scheduler0/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    SCHEDULER0_HOST=0.0.0.0 \
    SCHEDULER0_DATA_DIR=/var/lib/scheduler0/data \
    SCHEDULER0_SECRETS_FILE=/var/lib/scheduler0/.scheduler0
USER scheduler0
WORKDIR /var/lib/scheduler0
# The SQLite file, the Raft journal and the generated node secrets survive the container.
VOLUME /var/lib/scheduler0
# API, Raft, intake (ZeroMQ): Port, Port+1000, Port+2000.
EXPOSE 9091 10091 11091
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["scheduler0", "health", "--timeout", "4"]
# The supervisor stops its processes on SIGTERM (docker stop) and exits.
STOPSIGNAL SIGTERM
ENTRYPOINT ["scheduler0-supervisor"]

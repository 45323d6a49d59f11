# Sluice built from source: the Rust core with cargo (rustup's stable toolchain) and the
# TypeScript with npm, in one image. `docker build -t sluice .` then
# `docker run -p 9292:9292 -p 9092:9092 -p 9293:9293 -v sluice-data:/var/lib/sluice sluice`.
# Kafka clients outside the container need to be told the address they reach it by:
# `-e SLUICE_ADVERTISED_HOST=<host>` (and SLUICE_KAFKA_ADVERTISED_PORT if the port is mapped).
FROM node:20-bookworm

RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --default-toolchain stable
ENV PATH="/root/.cargo/bin:${PATH}"

WORKDIR /opt/sluice
COPY package.json package-lock.json tsconfig.json Cargo.toml Cargo.lock ./
COPY crates ./crates
COPY scripts ./scripts
COPY src ./src
COPY protocol ./protocol
# The product only: the addon without the benchmarks' load generators (no `bench` feature), and
# the TypeScript of src/. The build tree is dropped after.
RUN npm ci --no-audit --no-fund --ignore-scripts \
 && npm run build:native:product && npm run build:ts && rm -rf target

EXPOSE 9292 9092 9293
VOLUME /var/lib/sluice
HEALTHCHECK --interval=10s --timeout=3s CMD curl -sf http://127.0.0.1:9293/healthz || exit 1
CMD ["node", "--initial-heap-size=64", "dist/src/cli/main.js", "broker", "--data", "/var/lib/sluice", "--host", "0.0.0.0", "--port", "9292", "--kafka-port", "9092", "--metrics-port", "9293", "--log-format", "json"]

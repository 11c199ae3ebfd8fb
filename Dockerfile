# c360-ingest: one image for every worker kind (`c360 run`, `c360 sink`, `c360 collect`,
# `c360 watch`, `c360 connect`); the command picks the kind, the environment configures it.
# The build stage compiles TypeScript; the runtime stage holds production dependencies only,
# runs as a non-root user, and has tini as PID 1 so SIGTERM reaches c360's graceful stop.

FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
COPY patches ./patches
# Scripts are skipped here (prepare would build before the sources are copied); patches are applied by hand.
RUN npm ci --ignore-scripts --no-audit --no-fund && npx patch-package --error-on-fail
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY dev ./dev
COPY bench ./bench
COPY topologies ./topologies
RUN npm run build

FROM node:24-bookworm-slim AS runtime
# The commit the image is built from, for c360_build_info: docker build --build-arg C360_BUILD_COMMIT=$(git rev-parse --short=12 HEAD)
ARG C360_BUILD_COMMIT=unknown
RUN apt-get update && apt-get install -y --no-install-recommends tini && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production \
    C360_BUILD_COMMIT=$C360_BUILD_COMMIT \
    C360_HOST=0.0.0.0 \
    C360_DATA_DIR=/var/lib/c360 \
    C360_HOME=/tmp/c360
COPY package.json package-lock.json ./
COPY patches ./patches
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npx patch-package --error-on-fail && npm cache clean --force
# Only what runs: the launcher, the compiled CLI (not dist/dev: the local stack and demo stay out), the contracts and topologies.
COPY bin ./bin
COPY --from=build /src/dist/src ./dist/src
COPY --from=build /src/dist/topologies ./dist/topologies
COPY avro ./avro
# Tracking plans (topologies name them by path under the project, beside the contracts).
COPY plans ./plans
RUN mkdir -p /var/lib/c360 && chown node:node /var/lib/c360
USER node
# The ops port of every worker (metrics and probes) and the collector's HTTP port (C360_OPS_PORT, C360_COLLECTOR_PORT).
EXPOSE 9464 8088
ENTRYPOINT ["/usr/bin/tini", "--", "node", "/app/bin/c360.js"]
CMD ["--help"]

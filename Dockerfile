# Drover image: one image, three entry points (API, worker, provider emulator);
# docker-compose.yml picks the entry point per service with `command`.
#
# Debian (glibc) rather than Alpine: @temporalio/core-bridge ships prebuilt
# *-linux-gnu native binaries only, so a musl base would fail at worker start.
ARG NODE_IMAGE=node:24-bookworm-slim

# ---- build: full dependency tree, compile TypeScript, bundle workflows ----
FROM ${NODE_IMAGE} AS build
WORKDIR /app

# Manifests first so the dependency layer is reused until they change.
COPY package.json package-lock.json .npmrc ./
RUN --mount=type=cache,target=/root/.npm \
    npm ci

COPY . .
# The workflow bundle is built here so the worker does not run webpack at
# every start (see DROVER_WORKFLOW_BUNDLE in docker-compose.yml).
RUN npm run build \
 && npm run build:workflows \
 && test -f dist/workflow-bundle.js

# Drop devDependencies (tsc, tsx, types) before the tree is copied on.
RUN npm prune --omit=dev

# @temporalio/core-bridge ships native binaries for five OS/arch targets
# (~140 MB); keep only the one this image runs on. Skipped if the package
# layout ever changes, so an SDK upgrade cannot remove the binary it needs.
RUN target="$(uname -m)-unknown-linux-gnu"; \
    releases=node_modules/@temporalio/core-bridge/releases; \
    if [ -f "$releases/$target/index.node" ]; then \
      find "$releases" -mindepth 1 -maxdepth 1 -type d ! -name "$target" -exec rm -rf {} +; \
    fi

# ---- runtime ----
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app

# Left owned by root (COPY's default): the unprivileged `node` user can read
# but not rewrite the app. The worker's heartbeat goes to /tmp, still writable.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist

# The CLI, compiled, for `docker compose exec api drover status batch_…`.
RUN printf '#!/bin/sh\nexec node /app/dist/cli/main.js "$@"\n' > /usr/local/bin/drover \
 && chmod +x /usr/local/bin/drover

# The emulator profile keeps its batches here (a named volume), so a restart finishes them.
RUN mkdir -p /data && chown node:node /data

USER node
EXPOSE 3000

# Exec form so node (not a shell) receives SIGTERM on `docker stop`.
CMD ["node", "dist/api/server.js"]

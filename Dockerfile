# Multi-stage build: compile TypeScript, then a slim runtime image running as a non-root user.
# Node 22: the LTS line supported today (Node 20 left maintenance in April 2026); package.json's
# engines (>=20.19) is the oldest the code and the lock file run on, which CI checks (.ci/run).
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json tsconfig.service.json ./
COPY src ./src
# The image ships the service only (src/); the simulator, demo and bench stay in the repository.
RUN npx tsc -p tsconfig.service.json && npm prune --omit=dev

FROM node:22-bookworm-slim
ENV NODE_ENV=production DATA_DIR=/data PORT=3000
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY migrations ./migrations
# /data holds the embedded database when DATABASE_URL is unset: mount a volume there for that
# (docker run -v entra-data:/data). No VOLUME line: with DATABASE_URL it would only leave an
# unused anonymous volume behind at every container creation.
RUN mkdir -p /data && chown node:node /data
USER node
EXPOSE 3000
# PORT may be changed (docker-compose.yml maps it from .env): the check asks the port the service listens on.
HEALTHCHECK --interval=30s --timeout=5s CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# Exec form, no shell or npm in between: node is PID 1 and receives docker stop's SIGTERM itself
# (it installs its own handler, so PID 1's default of ignoring signals does not apply) and stops
# gracefully, letting the step in flight commit (up to STEP_BUDGET_MS; give docker stop a longer
# grace period than that, as docker-compose.yml does). test/process/start-command.test.ts checks it.
CMD ["node", "dist/src/cli/index.js", "serve"]

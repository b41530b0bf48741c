# The worker and the ops server, built from this repository.
#   docker build -t claude-temporal-agent .
# One image, two roles: `node dist/worker.js` (default) and `node dist/ops/main.js`.

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# No postinstall here: the Temporal binaries are only for tests and `npm start`.
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build.mjs ./scripts/
COPY src ./src
# Also bundles the workflow code into dist/workflow-bundle.js, which the worker loads instead of bundling.
RUN npm run build

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY --from=build /app/dist ./dist
# The workflow code is bundled at build time: workers start in about a second.
ENV AGENT_WORKFLOW_BUNDLE=/app/dist/workflow-bundle.js \
    AGENT_DATA_DIR=/data
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
CMD ["node", "dist/worker.js"]

# syntax=docker/dockerfile:1
# The OrchQueue gateway image. Node 24 runs the TypeScript sources directly (type stripping),
# which never checks types, so the build stage typechecks them first; the runtime stage gets
# production dependencies only (the `node` devDependency and the toolchain stay behind) and
# runs as the unprivileged `node` user. Only what runs ships: src/ without its unit tests and
# golden fixtures (.dockerignore), bin/ (the `orchqueue` CLI), migrations/ and the package
# files. Engine fakes, test kits and CI lints live outside src/ (test/, tools/) and never enter
# the build context; the contracts/ sources are compiled into src/generated/.

ARG NODE_IMAGE=node:24-bookworm-slim

# ---- build: the full toolchain, used to refuse an image whose sources do not typecheck.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: nothing we depend on needs an install script (the `node` devDependency's
# would download a second Node binary).
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
# Fails the build if .dockerignore ever stops keeping tests or fixtures out of src/.
RUN test -z "$(find src -name '*.test.ts' -o -name fixtures)"
RUN node node_modules/typescript/bin/tsc -p tsconfig.json --noEmit

# ---- runtime
FROM ${NODE_IMAGE} AS runtime
# NODE_COMPILE_CACHE: compiled (and type-stripped) modules are kept on the data volume, so a
# restart neither recompiles them nor loads the TypeScript stripper (≈ 20 MiB less resident).
# MALLOC_ARENA_MAX: glibc's malloc otherwise gives each thread that allocates (the audit worker,
# V8's and libuv's helpers) an arena of its own, ≈ 5-15 MiB more resident at idle
# (docs/operations.md "Memory").
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    NODE_COMPILE_CACHE=/app/.data/compile-cache \
    MALLOC_ARENA_MAX=2
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/src ./src
COPY bin ./bin
COPY migrations ./migrations
# PGlite's default data directory (audit.data_dir: .data/audit) must be writable by `node`.
RUN mkdir -p /app/.data && chown node:node /app/.data
VOLUME ["/app/.data"]
USER node
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT}/healthz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "src/main.ts"]

# ComfyUI with comfy-init as ENTRYPOINT and PID 1: ComfyUI, its venv and ComfyUI-Login are baked in at
# build time, so a container start installs nothing and only writes login/PASSWORD from the mounted hash.
#
# Targets (the stages are ordered so that the classic builder, which builds every stage up to the
# target, never needs the Swift image for `runtime`):
#   runtime            the image; takes the static binary that `scripts/build` made (dist/comfy-init;
#                      in the bundle, comfy-init: see COMFY_INIT_BINARY).
#                      Stages `base` (OS packages, user, comfy-init) and `bake` (the bootstrap, with the
#                      local sources) come before it; `runtime` copies /opt/comfyui and the git
#                      mirrors out of `bake`.
#                      `comfyctl build` runs: docker build --target runtime -t comfy-init/comfyui .
#   builder            compiles the static comfy-init and comfy-gateway for people who only have Docker (needs BuildKit
#                      and network access to the Swift image and Debian's archive):
#                        DOCKER_BUILDKIT=1 docker build --target comfy-init-binary --output dist .
#                      then build `runtime` as above.
#
# Build arguments (none is a secret; build arguments are visible in `docker history`):
#   BASE_IMAGE                    any Debian/Ubuntu image; the tests use comfy-init-base:bookworm
#   COMFYUI_REPO, COMFYUI_REF     ComfyUI source (empty: comfy-init's pinned release)
#   COMFYUI_LOGIN_REPO/_REF       ComfyUI-Login source (empty: comfy-init's defaults)
#   COMFYUI_PIP_EXTRA             extra requirements (default einops)
#   COMFYUI_CUSTOM_NODES          more custom nodes, URL[@REF] comma-separated
#   TORCH_INDEX_URL               PyTorch's own index for one CUDA variant (cu126, cu128, cu130), as
#                                 pytorch.org's install selector shows it: torch, torchvision and
#                                 torchaudio come from it alone. Empty: the default index's torch (CUDA 13
#                                 today, which needs driver 580 or newer). docs/gpu.md has the table.
#   PIP_INDEX_URL, PIP_EXTRA_INDEX_URL, PIP_FIND_LINKS, PIP_NO_INDEX, PIP_TRUSTED_HOST
#                                 where pip finds packages during the build only (see the bootstrap step)
#   COMFYUI_UID, COMFYUI_GID      the unprivileged user (default 1000); the compose secret file must be
#                                 readable by it, which `comfyctl` arranges. What must be written at run
#                                 time belongs to COMFYUI_UID and group 0, group-writable: any uid with
#                                 gid 0 (`--user 12345:0`, the OpenShift convention) runs it too
#   COMFYUI_STATE_DIR             where a start writes comfy-init's state and login/PASSWORD (default
#                                 /run/comfy-init): the one mount a read-only root needs besides
#                                 ComfyUI's temp/ and the data volumes (docs/hardening.md)
#   COMFY_INIT_BINARY             the comfy-init to copy, relative to the context (dist/comfy-init)
#   COMFY_GATEWAY_BINARY          the comfy-gateway to copy beside it (dist/comfy-gateway)
#   COMFY_INIT_VERSION/_REVISION/_SOURCE   the OCI labels (`comfyctl build` fills them from the binary)
# Local sources (git repos, wheel folders) go into .cache/docker-context/, which the `bake` stage
# copies to /opt/comfyui-build/ (e.g. COMFYUI_REPO=file:///opt/comfyui-build/repos/comfyui.git,
# PIP_FIND_LINKS=/opt/comfyui-build/wheels). `comfyctl build --comfyui-repo/--login-repo/--wheels` (and
# --standin, with the stand-in ComfyUI) fill it. The runtime image keeps only its repos/ (see
# `runtime`), never the wheels: the real ones are gigabytes. A stage rather than a BuildKit bind
# mount, because the classic builder has no mounts.

# A plain Ubuntu, not NVIDIA's CUDA runtime image: torch's CUDA wheels bring their own CUDA libraries
# (3.0 GB in the venv with torch 2.15), and NVIDIA's container toolkit adds the driver at start; the
# CUDA image's copies of those libraries would never be loaded (BENCHMARKS.md, "Base image").
ARG BASE_IMAGE=ubuntu:24.04
ARG SWIFT_IMAGE=swift:6.3-bookworm

FROM ${BASE_IMAGE} AS base

# python3-venv for `python3 -m venv`, git for the sources, CA certificates for HTTPS clones and
# downloads. Nothing else: comfy-init does the health check itself, so no curl is needed.
RUN export DEBIAN_FRONTEND=noninteractive \
  && apt-get update -qq \
  && apt-get install -y -qq --no-install-recommends python3 python3-venv git ca-certificates >/dev/null \
  && rm -rf /var/lib/apt/lists/*

# What NVIDIA's container toolkit mounts with a GPU (the CUDA images set the same): the driver's
# compute libraries and nvidia-smi, nothing for graphics or video.
ENV NVIDIA_DRIVER_CAPABILITIES=compute,utility

ARG COMFYUI_UID=1000
ARG COMFYUI_GID=1000
ARG COMFYUI_STATE_DIR=/run/comfy-init
# Numeric ids, reused when the base image already has them (Ubuntu 24.04 ships "ubuntu" as 1000):
# USER below is numeric too, so the names never matter. Every volume mount point exists and belongs
# to that user and group 0, group-writable, so a fresh named volume is seeded with an owner that
# both the image's user and any uid with gid 0 can write as. The state folder exists (without a mount
# it is the container's layer) with the same owner.
RUN (getent group "${COMFYUI_GID}" >/dev/null || groupadd --gid "${COMFYUI_GID}" comfy) \
  && (getent passwd "${COMFYUI_UID}" >/dev/null \
    || useradd --uid "${COMFYUI_UID}" --gid "${COMFYUI_GID}" --create-home --shell /usr/sbin/nologin comfy) \
  && install -d -o "${COMFYUI_UID}" -g 0 -m 0775 /opt/comfyui "${COMFYUI_STATE_DIR}"

# dist/comfy-init in a checkout, comfy-init in the bundle (scripts/package): `comfyctl build` passes the
# path it found (ComfyCtlKit's Project.initBinaryPath is the one owner of that choice).
ARG COMFY_INIT_BINARY=dist/comfy-init
COPY ${COMFY_INIT_BINARY} /usr/local/bin/comfy-init
# The gate (auth on): comfy-init starts it from beside itself (COMFYUI_GATEWAY overrides).
ARG COMFY_GATEWAY_BINARY=dist/comfy-gateway
COPY ${COMFY_GATEWAY_BINARY} /usr/local/bin/comfy-gateway

# Sources are ENV, not only ARG: a start compares them with what the build checked out, and the
# same values mean "nothing to do" without running git. In `base`, so `bake` and `runtime` agree.
ARG COMFYUI_REPO=
ARG COMFYUI_REF=
ARG COMFYUI_LOGIN_REPO=
ARG COMFYUI_LOGIN_REF=
ARG COMFYUI_PIP_EXTRA=einops
ARG COMFYUI_CUSTOM_NODES=
ARG TORCH_INDEX_URL=
ENV COMFYUI_HOME=/opt/comfyui \
  COMFYUI_AUTH=login \
  COMFYUI_LISTEN=0.0.0.0 \
  COMFYUI_PORT=8188 \
  COMFYUI_REPO=${COMFYUI_REPO} \
  COMFYUI_REF=${COMFYUI_REF} \
  COMFYUI_LOGIN_REPO=${COMFYUI_LOGIN_REPO} \
  COMFYUI_LOGIN_REF=${COMFYUI_LOGIN_REF} \
  COMFYUI_PIP_EXTRA=${COMFYUI_PIP_EXTRA} \
  COMFYUI_CUSTOM_NODES=${COMFYUI_CUSTOM_NODES} \
  COMFYUI_TORCH_INDEX_URL=${TORCH_INDEX_URL}

USER ${COMFYUI_UID}:${COMFYUI_GID}
WORKDIR /opt/comfyui


# ---- the bootstrap, with the local sources; only /opt/comfyui leaves this stage ----------------
FROM base AS bake
ARG COMFYUI_UID=1000
ARG COMFYUI_GID=1000
# The glob makes the folder optional: with nothing local to build from, only .dockerignore is copied.
COPY --chown=${COMFYUI_UID}:${COMFYUI_GID} .dockerignore .cach[e]/docker-contex[t] /opt/comfyui-build/

# The package source is build-time only. comfy-init's venv stamp fingerprints the PIP_* variables, and
# a container runs without them: were they set here, the first start would see another fingerprint and
# run pip again. So they reach pip as a config file (which the stamp ignores) and are unset for
# comfy-init. No credential exists at build time: `bootstrap` defers the auth phase to the start.
ARG PIP_INDEX_URL=
ARG PIP_EXTRA_INDEX_URL=
ARG PIP_FIND_LINKS=
ARG PIP_NO_INDEX=
ARG PIP_TRUSTED_HOST=
RUN set -eu; \
  conf=$(mktemp); \
  printf '[global]\nno-cache-dir = true\ndisable-pip-version-check = true\n' >"$conf"; \
  if [ -n "$PIP_INDEX_URL" ]; then printf 'index-url = %s\n' "$PIP_INDEX_URL" >>"$conf"; fi; \
  if [ -n "$PIP_EXTRA_INDEX_URL" ]; then printf 'extra-index-url = %s\n' "$PIP_EXTRA_INDEX_URL" >>"$conf"; fi; \
  if [ -n "$PIP_FIND_LINKS" ]; then printf 'find-links = %s\n' "$PIP_FIND_LINKS" >>"$conf"; fi; \
  if [ -n "$PIP_TRUSTED_HOST" ]; then printf 'trusted-host = %s\n' "$PIP_TRUSTED_HOST" >>"$conf"; fi; \
  case "$PIP_NO_INDEX" in 1|true|yes|on) echo 'no-index = true' >>"$conf" ;; esac; \
  # pip, not uv: uv would not read the config file. PIP_NO_CACHE_DIR (outside the venv's fingerprint) reaches
  # COMFYUI_TORCH_INDEX_URL's step too, which reads no config file.
  env -u PIP_INDEX_URL -u PIP_EXTRA_INDEX_URL -u PIP_FIND_LINKS -u PIP_NO_INDEX -u PIP_TRUSTED_HOST \
    PIP_CONFIG_FILE="$conf" PIP_NO_CACHE_DIR=1 COMFYUI_INSTALLER=pip comfy-init bootstrap; \
  rm -f "$conf"; \
  mkdir -p /opt/comfyui-build/repos ComfyUI/models ComfyUI/input ComfyUI/output ComfyUI/user ComfyUI/custom_nodes
# The classic builder keeps this stage as an untagged image (the context plus the venv: 10 GB with the
# real wheels); the label lets `comfyctl build` find and remove it once `runtime` is built.
ARG COMFYUI_BAKE_FOR=
LABEL comfy-init.bake-for=${COMFYUI_BAKE_FOR}
# For a read-only root: ComfyUI-Login reads ComfyUI/login/PASSWORD, so login/ is a link into the state
# folder (comfy-init makes its target at each start); temp/ is ComfyUI's, a mount point of its own.
# What a start may write is made group-writable (the venv is not: nothing writes it at a warm start).
# ComfyUI's bytecode is compiled here: on a read-only root Python could not cache it, and would
# compile every module again at each start.
ARG COMFYUI_STATE_DIR=/run/comfy-init
RUN test ! -e ComfyUI/login \
  && ln -s "${COMFYUI_STATE_DIR}/login" ComfyUI/login \
  && mkdir -p ComfyUI/temp \
  && venv/bin/python -m compileall -q -j 0 ComfyUI >/dev/null \
  && chmod -R g=u ComfyUI .comfy-init /opt/comfyui-build/repos


# ---- the image: base, plus the venv and the checkouts ------------------------------------------
FROM base AS runtime
ARG COMFYUI_UID=1000
ARG COMFYUI_STATE_DIR=/run/comfy-init
# Paths stay the same (the venv's scripts name /opt/comfyui/venv); modes and symlinks are kept. Group 0
# (the OpenShift convention): any uid with gid 0 may write what `bake` made group-writable.
COPY --from=bake --chown=${COMFYUI_UID}:0 /opt/comfyui /opt/comfyui
# The local git sources (mirrors: a few MB, unlike the wheels) stay at the URL the image's COMFYUI_REPO
# and COMFYUI_LOGIN_REPO name: a start that finds a volume's ComfyUI-Login at another commit (a
# custom_nodes volume from an earlier image) fetches the baked ref from there.
COPY --from=bake --chown=${COMFYUI_UID}:0 /opt/comfyui-build/repos /opt/comfyui-build/repos
# The build's stamps stay in HOME/.comfy-init, read-only; a start copies them into COMFYUI_STATE_DIR,
# which a tmpfs or an emptyDir may cover (docs/hardening.md).
ENV COMFYUI_STATE_DIR=${COMFYUI_STATE_DIR}

# The model families' manifests (manifests/*.txt): each compose profile and Kubernetes overlay points
# COMFYUI_MODELS_MANIFEST at its family's file here. Read-only, beside the image's own files; a manifest
# of your own goes anywhere in the container (e.g. the models volume) and its variable names it.
COPY manifests/ /etc/comfy-init/manifests/

# What is in the image, from the comfy-init binary copied into it (`comfyctl build` runs its
# `version`, so the labels cannot drift from it); `comfyctl status` compares them with itself.
# Last, so a new commit rebuilds no layer above.
ARG COMFY_INIT_VERSION=unknown
ARG COMFY_INIT_REVISION=unknown
ARG COMFY_INIT_SOURCE=
LABEL org.opencontainers.image.title="comfy-init ComfyUI" \
  org.opencontainers.image.version=${COMFY_INIT_VERSION} \
  org.opencontainers.image.revision=${COMFY_INIT_REVISION} \
  org.opencontainers.image.source=${COMFY_INIT_SOURCE}

EXPOSE 8188
# Cheap (one local HTTP request) and it says why when not healthy: "installing: bootstrap phase venv".
HEALTHCHECK --interval=5s --timeout=10s --start-period=10m --retries=3 CMD ["comfy-init", "health"]
# comfy-init turns SIGTERM into the SIGINT that ComfyUI cleans up on, and kills after
# COMFYUI_STOP_TIMEOUT (8 s): keep Docker's grace period above that (compose sets 12 s).
STOPSIGNAL SIGTERM
ENTRYPOINT ["comfy-init"]
CMD ["run"]
# User data only. Custom nodes are a volume so that nodes added with COMFYUI_CUSTOM_NODES survive a
# new container; a fresh volume is seeded from the image, ComfyUI-Login included.
VOLUME ["/opt/comfyui/ComfyUI/models", "/opt/comfyui/ComfyUI/input", "/opt/comfyui/ComfyUI/output", \
  "/opt/comfyui/ComfyUI/user", "/opt/comfyui/ComfyUI/custom_nodes"]


# ---- comfy-init from source, for people who only have Docker ------------------------------------
FROM ${SWIFT_IMAGE} AS builder
# What scripts/setup's static libcurl build needs, plus libcrypt-dev for libxcrypt's static archive and
# python3 for scripts/build (it makes the static stdlib's unused code collectable).
RUN export DEBIAN_FRONTEND=noninteractive \
  && apt-get update -qq \
  && apt-get install -y -qq --no-install-recommends autoconf automake libtool pkg-config make gcc libc6-dev \
    libssl-dev libcrypt-dev zlib1g-dev dpkg-dev file ca-certificates git python3 >/dev/null
WORKDIR /src
COPY scripts/setup scripts/setup
RUN bash -c 'source scripts/setup && build_static_curl'
COPY Package.swift ./
COPY Sources Sources
# Package.swift declares the test targets; the manifest does not load without their folders. The two
# support targets are copied (a few KB), the test suites' folders are left empty:
# `scripts/build comfy-init` builds none of them.
COPY Tests/TestSupport Tests/TestSupport
COPY Tests/CurlProbe Tests/CurlProbe
RUN mkdir -p Tests/ComfyInitTests Tests/ComfyCtlTests
# The same flags as a local build: scripts/build is their one owner. There is no .git here: the
# commit the binary reports comes from this argument (`scripts/build --print-commit` on the host).
COPY scripts/build scripts/build
ARG COMFY_INIT_COMMIT=
RUN COMFY_INIT_COMMIT="${COMFY_INIT_COMMIT}" scripts/build comfy-init comfy-gateway \
  && mkdir -p /out \
  && cp dist/comfy-init dist/comfy-gateway /out/

# Only the binaries (comfy-init and the gate beside it), for `--output dist`.
FROM scratch AS comfy-init-binary
COPY --from=builder /out/comfy-init /comfy-init
COPY --from=builder /out/comfy-gateway /comfy-gateway

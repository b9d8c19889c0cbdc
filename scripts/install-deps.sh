#!/usr/bin/env bash
# Installs what the tests and the demo need on a fresh Debian machine: the container tools
# (buildah, skopeo), the distribution registry, a static busybox for offline example
# images, and the npm packages. Each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v buildah >/dev/null || need+=(buildah)
command -v skopeo >/dev/null || need+=(skopeo)
command -v docker-registry >/dev/null || need+=(docker-registry)
[ -x /bin/busybox ] || need+=(busybox-static)
command -v git >/dev/null || need+=(git)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  echo "installing Debian packages: ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# `npm install` (not `npm ci`): it installs what package-lock.json pins, and npm 11 writes
# lock files without other platforms' optional packages, which `npm ci` then refuses.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm install --no-audit --no-fund --loglevel=error
fi

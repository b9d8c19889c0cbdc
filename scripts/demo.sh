#!/usr/bin/env bash
# The main job on the bundled example images, as a new user would see it:
# a git repository made from images/ with two commits (the second changes the base image),
# then `image-builder plan` for that push, and the whole graph.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bash scripts/install-deps.sh
[ -f dist/cli/index.js ] || npm run --silent build
cli="$root/dist/cli/index.js"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
repo="$work/repo"
cp -r images "$repo"
mkdir -p "$repo/base/rootfs/bin"
cp /bin/busybox "$repo/base/rootfs/bin/busybox"

git -C "$repo" init -q -b main
git -C "$repo" -c user.name=demo -c user.email=demo@example.com add -A
git -C "$repo" -c user.name=demo -c user.email=demo@example.com commit -q -m "example images"
echo "base 2" > "$repo/base/base-release"
git -C "$repo" -c user.name=demo -c user.email=demo@example.com commit -q -am "base: release 2"

echo "== image-builder plan (the push of the second commit)"
(cd "$repo" && node "$cli" plan --since HEAD~1)
echo
echo "== image-builder graph"
(cd "$repo" && node "$cli" graph)

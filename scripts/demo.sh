#!/usr/bin/env bash
# The main job on the bundled example images, as a new user would see it: a local registry
# on a free loopback port, a git repository made from images/ with two commits (the second
# changes the base image), `image-builder build` as for a GitHub push of that commit, the
# tags now in the registry, and a rerun that builds nothing.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bash scripts/install-deps.sh
[ -f dist/cli/index.js ] || npm run --silent build
cli="$root/dist/cli/index.js"

work="$(mktemp -d)"
registry_pid=""
cleanup() {
  [ -z "$registry_pid" ] || kill "$registry_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

port="$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
cat > "$work/registry.yml" <<YAML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $work/registry
http:
  addr: 127.0.0.1:$port
YAML
docker-registry serve "$work/registry.yml" > "$work/registry.log" 2>&1 &
registry_pid=$!
for _ in $(seq 1 100); do
  node -e "fetch('http://127.0.0.1:$port/v2/').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))" && break
  sleep 0.1
done
registry="127.0.0.1:$port/examples"
echo "== a registry on $registry"

repo="$work/repo"
cp -r images "$repo"
mkdir -p "$repo/base/rootfs/bin"
cp /bin/busybox "$repo/base/rootfs/bin/busybox"
git_() { git -C "$repo" -c user.name=demo -c user.email=demo@example.com "$@"; }
git_ init -q -b main
git_ add -A
git_ commit -q -m "example images"
before="$(git_ rev-parse HEAD)"
echo "base 2" > "$repo/base/base-release"
git_ commit -q -am "base: release 2"
after="$(git_ rev-parse HEAD)"

# The environment GitHub Actions gives a step for this push.
cat > "$work/event.json" <<JSON
{"ref": "refs/heads/main", "before": "$before", "after": "$after", "repository": {"default_branch": "main", "html_url": "https://github.com/example/images"}}
JSON
github_push() {
  (cd "$repo" && env GITHUB_ACTIONS=true GITHUB_EVENT_NAME=push GITHUB_EVENT_PATH="$work/event.json" \
    GITHUB_SHA="$after" GITHUB_REF=refs/heads/main GITHUB_REF_NAME=main GITHUB_REF_TYPE=branch \
    GITHUB_REPOSITORY=example/images GITHUB_SERVER_URL=https://github.com \
    node "$cli" build --registry "$registry")
}

echo
echo "== image-builder build (the push of the second commit)"
github_push
echo
echo "== tags in the registry"
for image in base app app-plugin tools web; do
  tags="$( (skopeo list-tags --tls-verify=false "docker://$registry/$image" 2>/dev/null || true) |
    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{console.log(JSON.parse(s).Tags.sort().join(" "))}catch{console.log("(not built: unchanged since the first commit)")}})')"
  echo "  $image: $tags"
done
echo
echo "== the same push again: nothing is built"
github_push

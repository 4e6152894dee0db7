#!/usr/bin/env bash
# Builds the Debian package into dist/: one static oauthkit binary, the
# three command names as links to it, man pages, bash/zsh/fish
# completions (all made by the binary from its own flag definitions) and
# the systemd units of examples/deploy. nfpm runs through go run at a
# pinned version: nothing else to install.
#   packaging/build-deb.sh            # version from git (0.0.0~git<sha> untagged)
#   VERSION=1.2.3 packaging/build-deb.sh
set -euo pipefail
cd "$(dirname "$0")/.."
NFPM=github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2

if [ -z "${VERSION:-}" ]; then
  if tag=$(git describe --tags --exact-match 2>/dev/null); then
    VERSION=${tag#v}
  else
    VERSION=0.0.0~git$(git rev-parse --short HEAD)
  fi
fi
export VERSION GOARCH=${GOARCH:-$(go env GOARCH)}

rm -rf dist && mkdir -p dist/man dist/completions
CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags="-s -w" -o dist/oauthkit ./cmd/oauthkit
dist/oauthkit man dist/man
gzip -9n dist/man/*.1
dist/oauthkit completion bash > dist/completions/oauthkit.bash
dist/oauthkit completion zsh > dist/completions/_oauthkit
dist/oauthkit completion fish > dist/completions/oauthkit.fish
go run "$NFPM" package --config packaging/nfpm.yaml --packager deb --target dist/
ls dist/*.deb

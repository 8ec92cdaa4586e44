#!/usr/bin/env bash
# Builds the Consul agent that agent/cluster's tests start, once per machine.
#
# Consul 1.16.3 is the last MPL-2.0 release: 1.16.4 and later are BUSL and
# must never be built here. No registry ships the binary, so it is built from
# the Go module proxy with a throw-away wrapper module (generated in a temp
# dir, never committed) that pins Consul's sub-modules to published versions.
# The binary is cached outside the repository; the build takes 4-8 minutes on
# 2 cores and is skipped when the cached binary already reports v1.16.3.
set -euo pipefail

CONSUL_VERSION=1.16.3 # NEVER raise: 1.16.4+ is BUSL.
CACHE_DIR="${GOD_CONSUL_CACHE:-/var/cache/god/consul-${CONSUL_VERSION}}"
BIN="$CACHE_DIR/consul"
log() { printf '==> %s\n' "$*" >&2; }

# reports_version BINARY: its `version` starts with "Consul v1.16.3".
reports_version() {
  local out
  out=$("$1" version 2>/dev/null) || return 1
  [ "${out%%$'\n'*}" = "Consul v${CONSUL_VERSION}" ]
}

if [ -x "$BIN" ] && reports_version "$BIN"; then
  log "consul v${CONSUL_VERSION} present at $BIN"
  exit 0
fi

GO="${GO:-$(command -v go || echo /usr/local/go/bin/go)}"
[ -x "$GO" ] || { log "no go toolchain found (set GO=/path/to/go)"; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat >"$work/go.mod" <<EOF
module godtestenv/consulbuild

go 1.21

require github.com/hashicorp/consul v${CONSUL_VERSION}

replace (
	github.com/hashicorp/consul/api => github.com/hashicorp/consul/api v1.25.1
	github.com/hashicorp/consul/envoyextensions => github.com/hashicorp/consul/envoyextensions v0.4.1
	github.com/hashicorp/consul/proto-public => github.com/hashicorp/consul/proto-public v0.4.1
	github.com/hashicorp/consul/sdk => github.com/hashicorp/consul/sdk v0.14.1
	github.com/hashicorp/consul/troubleshoot => github.com/hashicorp/consul/troubleshoot v0.3.1
)
EOF
# An import, so that `go mod tidy` records Consul's whole dependency graph.
cat >"$work/tools.go" <<'EOF'
//go:build tools

package tools

import _ "github.com/hashicorp/consul"
EOF

log "building consul v${CONSUL_VERSION} from the Go module proxy into $BIN (4-8 minutes, once per machine)"
mkdir -p "$CACHE_DIR"
(
  cd "$work"
  export GOFLAGS=-mod=mod GONOSUMDB=github.com/hashicorp/consul GOTOOLCHAIN=local
  # Consul's own go.sum vouches for its dependencies: the checksum database
  # does not know some of them (hcp-sdk-go v0.55.0 answers 404).
  src=$("$GO" mod download -json "github.com/hashicorp/consul@v${CONSUL_VERSION}" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -f "$src/go.sum" ] || { log "no go.sum in the downloaded consul module (at '$src')"; exit 1; }
  cp "$src/go.sum" go.sum
  "$GO" mod tidy
  # The version comes from the module's embedded VERSION file.
  "$GO" build -trimpath -o "$work/consul" github.com/hashicorp/consul
)
reports_version "$work/consul" || {
  log "built binary does not report v${CONSUL_VERSION}:"; "$work/consul" version >&2; exit 1; }
# Atomic install: a concurrent reader never sees a half-written binary.
install -m 0755 "$work/consul" "$BIN.tmp.$$"
mv -f "$BIN.tmp.$$" "$BIN"
log "consul v${CONSUL_VERSION} ready at $BIN"

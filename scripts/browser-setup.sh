#!/usr/bin/env bash
# Prepares the Playwright driver folder the browser tests (e2e/) use, without
# the download playwright-go would otherwise attempt:
#
#   DIR/package/   playwright-core, from `npm pack`, at the version
#                  playwright-go pins (playwrightCliVersion in its run.go)
#   DIR/node       a link to this machine's node
#
# The browser itself is Debian's chromium (scripts/setup.sh installs it).
# Idempotent: when DIR already holds the right version nothing is fetched.
#
#   scripts/browser-setup.sh .cache/playwright-driver
set -euo pipefail

if [ $# -ne 1 ]; then
	echo "usage: $0 DIR" >&2
	exit 2
fi
dir=$(realpath -m "$1")
cd "$(dirname "$0")/.." # go list reads this module's go.mod

for cmd in go node npm tar; do
	if ! command -v "$cmd" >/dev/null 2>&1; then
		echo "browser-setup: $cmd is missing (run scripts/setup.sh as root)" >&2
		exit 1
	fi
done

moddir=$(go list -m -f '{{.Dir}}' github.com/playwright-community/playwright-go)
if [ -z "$moddir" ] || [ ! -f "$moddir/run.go" ]; then
	go mod download github.com/playwright-community/playwright-go
	moddir=$(go list -m -f '{{.Dir}}' github.com/playwright-community/playwright-go)
fi
version=$(sed -n 's/^const playwrightCliVersion = "\([^"]*\)".*/\1/p' "$moddir/run.go")
if [ -z "$version" ]; then
	echo "browser-setup: no playwrightCliVersion in $moddir/run.go" >&2
	exit 1
fi

node=$(command -v node)
current() {
	[ -f "$dir/package/cli.js" ] && [ -x "$dir/node" ] && "$dir/node" "$dir/package/cli.js" --version 2>/dev/null
}

if ! current | grep -qxF "Version $version"; then
	echo "browser-setup: fetching playwright-core $version into $dir"
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	(cd "$tmp" && npm pack --silent "playwright-core@$version" >/dev/null)
	tarball=$(ls "$tmp"/playwright-core-*.tgz)
	mkdir -p "$dir"
	rm -rf "$dir/package"
	tar -xzf "$tarball" -C "$dir"
fi
# The link is cheap to keep right: node may have moved since the last run.
if [ "$(readlink "$dir/node" 2>/dev/null)" != "$node" ]; then
	ln -sfn "$node" "$dir/node"
fi

got=$("$dir/node" "$dir/package/cli.js" --version)
if [ "$got" != "Version $version" ]; then
	echo "browser-setup: $dir/package/cli.js --version printed \"$got\", want \"Version $version\"" >&2
	exit 1
fi
echo "browser-setup: $dir ready (playwright-core $version, node $("$dir/node" --version))"

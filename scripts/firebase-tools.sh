#!/usr/bin/env bash
# Installs the Firebase CLI (firebase-tools), whose Auth emulator the tests of
# Firebase sign-in run against, into .cache/firebase-tools, and prints the
# path of the firebase command on stdout (messages go to stderr).
#
# --ignore-scripts skips a native module's build that the Auth emulator does
# not need. Idempotent: when the pinned version is there nothing is fetched.
# The emulator needs Java only for Firestore, not for Auth: node is enough.
#
#   scripts/firebase-tools.sh            install if missing, print the path
#   FIREBASE_CLI=$(scripts/firebase-tools.sh) go test ./firebaseauth/ ./handlers/
set -euo pipefail

version=15.34.2
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="$root/.cache/firebase-tools"
cli="$dir/node_modules/.bin/firebase"

for cmd in node npm; do
	if ! command -v "$cmd" >/dev/null 2>&1; then
		echo "firebase-tools: $cmd is missing (run scripts/setup.sh as root)" >&2
		exit 1
	fi
done

installed() {
	[ -x "$cli" ] && [ -f "$dir/node_modules/firebase-tools/package.json" ] &&
		node -e 'process.exit(require(process.argv[1]).version === process.argv[2] ? 0 : 1)' \
			"$dir/node_modules/firebase-tools/package.json" "$version"
}

if ! installed; then
	echo "firebase-tools: installing firebase-tools@$version into ${dir#"$root"/}" >&2
	mkdir -p "$dir"
	[ -f "$dir/package.json" ] || echo '{"private": true}' >"$dir/package.json"
	(cd "$dir" && npm install --silent --no-audit --no-fund --ignore-scripts "firebase-tools@$version" >&2)
	installed || {
		echo "firebase-tools: $cli missing after npm install" >&2
		exit 1
	}
fi
echo "$cli"

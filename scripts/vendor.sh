#!/usr/bin/env bash
# Vendors the front-end packages the web pages use into static/vendor/.
#
# For each pinned package: `npm pack NAME@VERSION` into a temporary folder,
# check the tarball against the sha512 integrity recorded below, and copy only
# the listed built files plus the package's licence into
# static/vendor/<dir>/. static/vendor/VERSIONS.md is written from the same
# table. No node_modules, nothing installed; the Go build never calls npm.
#
# Idempotent: files whose content is unchanged are left alone, files no longer
# listed are removed, so a second run changes nothing.
#
#   scripts/vendor.sh          fetch, verify, update static/vendor/
#   scripts/vendor.sh --check  fetch, verify, and fail if static/vendor/ differs
#
# To bump a package: change its version, run once with the old integrity, and
# record the integrity the failure message reports (after checking the release).
set -euo pipefail

# name|version|dir|integrity|files (space separated, paths inside the package)|licence file|licence
PACKAGES=(
	"htmx.org|2.0.11|htmx|sha512-Thx/WtpeOQqSrqBCw/A1cwGJGg4UrVa3+sW0GmrM3p4gJgO89ecH4qtbnyzDDWFvBTqjnIMCgELTNt636dtamA==|dist/htmx.min.js|LICENSE|0BSD"
	"htmx-ext-ws|2.0.4|htmx-ext-ws|sha512-LnOpFRL/2hInhdKl/9N0OJsb4GYQ5/teUdTHNZYY9ytYdxYEqjfLEe0MWgF3ODjfwGJRb4E95igAbU66te48ZA==|dist/ws.min.js|LICENSE|0BSD"
	"molstar|5.11.0|molstar|sha512-Jv2oHkKoCpzrhqLmGlknepm0pfRsoTDebsGRkvXpbUFb6p+JIAkhLyM3uqV2twC6VR83ZbXtdswOtouPhozpuQ==|build/viewer/molstar.js build/viewer/molstar.css|LICENSE|MIT"
	"smiles-drawer|2.4.1|smiles-drawer|sha512-kJeD91Bp8EwLTQouq4az7hn5zUYdIaLQoyFt8XlsqriugPiZOdBFADJMUnfqDYpyu3XK9SFpBgTuDtczpbSUbA==|dist/smiles-drawer.min.js|LICENSE.md|MIT"
	"firebase|12.19.0|firebase|sha512-kwXCLcI0ly2lkwygkbuRx6SsX3DSO96355YrWh9SWZ5ncsxK/y5cirn3sY6nZVSiBVE++2nL6Hchzu1EB8uohQ==|firebase-app-compat.js firebase-auth-compat.js|package.json|Apache-2.0"
	"uplot|1.6.32|uplot|sha512-KIMVnG68zvu5XXUbC4LQEPnhwOxBuLyW1AHtpm6IKTXImkbLgkMy+jabjLgSLMasNuGGzQm/ep3tOkyTxpiQIw==|dist/uPlot.iife.min.js dist/uPlot.min.css|LICENSE|MIT"
)

check=0
case "${1:-}" in
"") ;;
--check) check=1 ;;
*)
	echo "usage: $0 [--check]" >&2
	exit 2
	;;
esac

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
vendor="$root/static/vendor"

for cmd in npm tar openssl base64; do
	command -v "$cmd" >/dev/null 2>&1 || {
		echo "vendor: $cmd not found" >&2
		exit 1
	}
done

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# sri FILE prints the file's integrity in the form npm records (sha512-BASE64).
sri() {
	printf 'sha512-%s' "$(openssl dgst -sha512 -binary "$1" | base64 | tr -d '\n')"
}

differs=0
# place SRC DST copies SRC to DST unless DST already has the same bytes.
place() {
	if [ -f "$2" ] && cmp -s "$1" "$2"; then
		return 0
	fi
	differs=1
	if [ "$check" -eq 1 ]; then
		echo "vendor: ${2#"$root"/} differs from the package" >&2
		return 0
	fi
	mkdir -p "$(dirname "$2")"
	cp "$1" "$2"
	chmod 0644 "$2"
	echo "vendor: wrote ${2#"$root"/}"
}

human() {
	awk -v b="$1" 'BEGIN { if (b >= 1048576) printf "%.1f MiB", b/1048576; else if (b >= 1024) printf "%.1f KiB", b/1024; else printf "%d B", b }'
}

rows=()
for entry in "${PACKAGES[@]}"; do
	IFS='|' read -r name version dir want files licfile licence <<<"$entry"
	work="$tmp/$dir"
	mkdir -p "$work/pack" "$work/x"

	tgz="$(cd "$work/pack" && npm pack --silent "$name@$version" | tail -n 1)"
	tgz="$work/pack/$tgz"
	[ -f "$tgz" ] || {
		echo "vendor: npm pack $name@$version produced no tarball" >&2
		exit 1
	}
	got="$(sri "$tgz")"
	if [ "$got" != "$want" ]; then
		echo "vendor: integrity mismatch for $name@$version" >&2
		echo "vendor:   recorded $want" >&2
		echo "vendor:   got      $got" >&2
		exit 1
	fi

	# $files is a space-separated list and is split on purpose below.
	members=()
	for f in $files "$licfile"; do members+=("package/$f"); done
	tar -xzf "$tgz" -C "$work/x" "${members[@]}"

	keep=()
	list=""
	for f in $files "$licfile"; do
		base="$(basename "$f")"
		keep+=("$base")
		place "$work/x/package/$f" "$vendor/$dir/$base"
		if [ "$f" != "$licfile" ]; then
			size="$(wc -c <"$work/x/package/$f" | tr -d ' ')"
			list+="${list:+, }\`$dir/$base\` ($(human "$size"), from \`$f\`)"
		fi
	done

	# Remove files that are no longer listed for this package.
	if [ -d "$vendor/$dir" ]; then
		for existing in "$vendor/$dir"/*; do
			[ -e "$existing" ] || continue
			b="$(basename "$existing")"
			found=0
			for k in "${keep[@]}"; do [ "$k" = "$b" ] && found=1; done
			if [ "$found" -eq 0 ]; then
				differs=1
				if [ "$check" -eq 1 ]; then
					echo "vendor: ${existing#"$root"/} is not listed" >&2
				else
					rm -rf "$existing"
					echo "vendor: removed ${existing#"$root"/}"
				fi
			fi
		done
	fi

	rows+=("| $name | $version | $list | $licence (\`$dir/$licfile\`) | npm package \`$name@$version\`, $want |")
done

# VERSIONS.md, generated from the table above.
{
	echo "# Vendored front-end packages"
	echo
	echo "Written by scripts/vendor.sh; do not edit by hand. Each file is an unmodified copy of a"
	echo "file in the published npm package named in the last column (fetched with"
	echo "\`npm pack NAME@VERSION\`, tarball checked against the sha512 integrity shown). The"
	echo "package's licence file sits next to its files."
	echo
	echo "| Package | Version | Files | Licence | Source |"
	echo "|---|---|---|---|---|"
	printf '%s\n' "${rows[@]}"
	echo
	echo "Notes"
	echo "- Only the built browser files are kept; no node_modules, and the Go build never calls npm."
	echo "- molstar: the viewer's optional background images (build/viewer/images) and source maps are"
	echo "  not vendored. Structures are loaded from our own URLs, never by PDB id (which would fetch"
	echo "  from RCSB)."
	echo "- smiles-drawer is the one 2D depiction library (pure JavaScript, no WASM)."
	echo "- htmx-ext-ws has no licence field in its package.json; its LICENSE file is 0BSD."
	echo "- firebase ships no LICENSE file; its package.json, kept next to its files, declares Apache-2.0."
	echo '  Only the compat builds of the app and auth SDKs are vendored (global `firebase`, plain script'
	echo "  tags); the sign-in page of a server in Firebase mode loads them."
} >"$tmp/VERSIONS.md"
place "$tmp/VERSIONS.md" "$vendor/VERSIONS.md"

if [ "$check" -eq 1 ]; then
	if [ "$differs" -ne 0 ]; then
		echo "vendor: static/vendor is out of date; run scripts/vendor.sh" >&2
		exit 1
	fi
	echo "vendor: static/vendor matches the pinned packages"
elif [ "$differs" -eq 0 ]; then
	echo "vendor: static/vendor already up to date"
fi

#!/usr/bin/env bash
# Runs every fuzz target of the repository for DURATION each (a go test
# -fuzztime: 5s, 2m, 1000x), one target at a time, since go test -fuzz
# runs one target per invocation. Fails, after trying every target, if any
# failed; a failing input is kept under the package's testdata/fuzz/ as
# a seed that plain go test runs from then on.
#
#   scripts/fuzz.sh 5s
set -uo pipefail

if [ $# -ne 1 ]; then
	echo "usage: $0 DURATION (e.g. 5s, 2m)" >&2
	exit 2
fi
duration=$1
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$HOME/go/bin:$PATH
go=${GO:-go}

# The packages whose tests declare a fuzz target; go test -list then names
# the targets of each (listing only these spares the other packages'
# TestMain set-up).
mapfile -t pkgs < <(grep -rl --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]*\(' . |
	grep -v -e '^\./\.cache/' -e '/node_modules/' | xargs -r -n1 dirname | sort -u)
if [ ${#pkgs[@]} -eq 0 ]; then
	echo "no fuzz targets found" >&2
	exit 1
fi

targets=()
for pkg in "${pkgs[@]}"; do
	if ! list=$("$go" test -run '^$' -list '^Fuzz' "$pkg"); then
		echo "$list" >&2
		echo "FAIL listing $pkg" >&2
		exit 1
	fi
	for name in $(grep -E '^Fuzz' <<<"$list"); do
		targets+=("$pkg $name")
	done
done

failed=()
start=$SECONDS
for t in "${targets[@]}"; do
	read -r pkg name <<<"$t"
	echo "=== $pkg $name ($duration)"
	t0=$SECONDS
	if "$go" test -run '^$' -fuzz "^${name}\$" -fuzztime "$duration" "$pkg" >/tmp/fuzz.$$.log 2>&1; then
		echo "ok   $pkg $name $((SECONDS - t0))s"
	else
		cat /tmp/fuzz.$$.log
		echo "FAIL $pkg $name $((SECONDS - t0))s"
		failed+=("$pkg $name")
	fi
done
rm -f /tmp/fuzz.$$.log

echo "${#targets[@]} fuzz targets, $((SECONDS - start))s"
if [ ${#failed[@]} -gt 0 ]; then
	printf 'failed: %s\n' "${failed[@]}" >&2
	exit 1
fi

#!/usr/bin/env bash
# Installs what OMTX-Hub needs on a Debian machine, skipping what is
# already there: Go (through Debian, then the toolchain go.mod asks for),
# AutoDock Vina, Open Babel and RDKit (ligand preparation, and the oracle
# the chemistry tests compare against), and Chromium with Node.js for the
# browser tests.
set -euo pipefail

need=()
command -v vina >/dev/null 2>&1 || need+=(autodock-vina)
command -v obabel >/dev/null 2>&1 || need+=(openbabel)
command -v obrms >/dev/null 2>&1 || need+=(openbabel)
/usr/bin/python3 -c 'import rdkit' >/dev/null 2>&1 || need+=(python3-rdkit)
command -v go >/dev/null 2>&1 || [ -x /usr/local/go/bin/go ] || need+=(golang-go)
command -v gcc >/dev/null 2>&1 || need+=(gcc)
command -v git >/dev/null 2>&1 || need+=(git)
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)

if [ ${#need[@]} -gt 0 ]; then
	mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
	if [ "$(id -u)" -ne 0 ]; then
		echo "setup: missing Debian packages: ${need[*]}" >&2
		echo "setup: run as root, or: sudo apt-get install -y ${need[*]}" >&2
		exit 1
	fi
	echo "setup: installing ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# The Firestore emulator (Java) that the Firestore stores' tests run
# against comes with the Google Cloud CLI's apt repository, not Debian's:
# installed when that repository is configured, otherwise said plainly
# (those tests skip, and fail with CI=true).
launcher=/usr/lib/google-cloud-sdk/platform/cloud-firestore-emulator/cloud_firestore_emulator
if [ ! -x "$launcher" ] && [ -z "${FIRESTORE_EMULATOR_HOST:-}" ]; then
	if [ "$(id -u)" -eq 0 ] && apt-cache show google-cloud-cli-firestore-emulator >/dev/null 2>&1; then
		echo "setup: installing google-cloud-cli-firestore-emulator"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			google-cloud-cli-firestore-emulator default-jre-headless >/dev/null
	else
		echo "setup: no Firestore emulator ($launcher): install google-cloud-cli-firestore-emulator" \
			"from the Google Cloud CLI apt repository, or set FIRESTORE_EMULATOR_HOST" >&2
	fi
fi

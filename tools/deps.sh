#!/bin/sh
# Install every Debian package listed in tools/packages.txt that is missing.
# Idempotent and non-interactive: with everything present it touches nothing.
set -eu
here=$(dirname "$0")
missing=
for p in $(sed -e 's/#.*//' "$here/packages.txt"); do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$st" in
	*" installed") ;;
	*) missing="$missing $p" ;;
	esac
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages:$missing (run 'make deps' as root)" >&2
	exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing

#!/bin/sh
# Install what the browser tests need, when it is missing: Debian's chromium, chromium-driver
# and an Arabic font (fonts-noto-core: Noto Naskh/Kufi/Sans Arabic). Idempotent, quiet and
# non-interactive; `make test` runs it. Without root (or passwordless sudo) or apt-get it
# only warns: the browser tests then fail under CI=1 and are skipped elsewhere.
set -u

have_font() {
    command -v fc-list >/dev/null 2>&1 && fc-list 2>/dev/null | grep -qi "Noto Naskh Arabic"
}

missing=""
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
command -v chromedriver >/dev/null 2>&1 || missing="$missing chromium-driver"
have_font || missing="$missing fonts-noto-core"
[ -z "$missing" ] && exit 0

if [ "$(id -u)" = "0" ]; then
    run=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    run="sudo -n"
else
    echo "install_browser: need root to install:$missing (browser tests will not run)" >&2
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install_browser: no apt-get here; install$missing yourself (browser tests will not run)" >&2
    exit 0
fi

log="${TMPDIR:-/tmp}/marsad-install-browser.log"
echo "install_browser: installing$missing (log: $log)" >&2
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086 # $run and $missing are word lists on purpose
if ! { $run apt-get update -qq && $run apt-get install -y -qq --no-install-recommends $missing; } >"$log" 2>&1; then
    echo "install_browser: apt-get failed; see $log (browser tests will not run)" >&2
    tail -n 5 "$log" >&2
fi
exit 0

#!/bin/sh
# Install what the PostgreSQL tests need, when it is missing: Debian's postgresql-15 server
# (initdb, pg_ctl, pg_trgm) -- the tests start their own throwaway cluster, so the packaged
# service is neither configured nor started here. Idempotent, quiet and non-interactive;
# `make test` runs it. Without root (or passwordless sudo) or apt-get it only warns: the
# PostgreSQL tests then fail under CI=1 and are skipped elsewhere.
set -u

have_postgres() {
    command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1 && return 0
    for bin in /usr/lib/postgresql/*/bin; do
        [ -x "$bin/initdb" ] && [ -x "$bin/pg_ctl" ] && return 0
    done
    return 1
}

have_postgres && exit 0
package="${MARSAD_POSTGRES_PACKAGE:-postgresql-15}"

if [ "$(id -u)" = "0" ]; then
    run=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    run="sudo -n"
else
    echo "install_postgres: need root to install $package (PostgreSQL tests will not run)" >&2
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install_postgres: no apt-get here; install $package yourself (PostgreSQL tests will not run)" >&2
    exit 0
fi

log="${TMPDIR:-/tmp}/marsad-install-postgres.log"
echo "install_postgres: installing $package (log: $log)" >&2
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086 # $run is a word list on purpose
if ! { $run apt-get update -qq && \
       $run apt-get install -y -qq --no-install-recommends "$package"; } >"$log" 2>&1; then
    echo "install_postgres: apt-get failed; see $log (PostgreSQL tests will not run)" >&2
    tail -n 5 "$log" >&2
fi
exit 0

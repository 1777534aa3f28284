#!/usr/bin/env bash
# The project's test command (README): runs every test of the workspace.
#
# It first provides the outside components some tests need: PostgreSQL on 127.0.0.1:5432
# (started if installed but stopped) and Debian's Chromium with ChromeDriver for the browser
# test (installed when missing). Without them those tests skip with a printed reason, except
# under CI (the CI variable set), where they must run.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo -n "$@"; else return 1; fi; }

if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && command -v pg_ctlcluster >/dev/null; then
    for version in $(ls /etc/postgresql 2>/dev/null); do
        as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    done
fi
if [ ! -x /usr/bin/chromedriver ] && command -v apt-get >/dev/null; then
    echo "installing chromium and chromium-driver for the browser test" >&2
    { as_root apt-get update -qq && DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq chromium chromium-driver; } \
        || echo "could not install chromium; the browser test will say why it is skipped" >&2
fi

exec cargo test --workspace --locked "$@"

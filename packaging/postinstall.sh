#!/bin/sh
# The oauthkit-cleartokens.service runs as the system user oauthkit and
# reads its settings from /etc/oauthkit/cleartokens.env (DATABASE_URL and
# DOT's settings): make the user, and the folder, readable by it only.
set -e
if ! getent passwd oauthkit >/dev/null; then
  useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin oauthkit
fi
install -d -m 0750 -o root -g oauthkit /etc/oauthkit

#!/usr/bin/env bash
# Debian's dovecot IMAP server for the email connector's tests (tests/test_email_*.py).
# Idempotent and quiet when it is already installed. The tests start their own dovecot with a
# throwaway config on a free loopback port, so the system service is not needed: it is stopped.
set -euo pipefail

if [ -x /usr/sbin/dovecot ]; then
  exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  sudo=(sudo)
fi

echo "installing dovecot-imapd (email connector tests)"
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -qq --no-install-recommends dovecot-imapd >/dev/null
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet dovecot 2>/dev/null; then
  "${sudo[@]}" systemctl disable --now dovecot >/dev/null 2>&1 || true
fi
/usr/sbin/dovecot --version

#!/usr/bin/env bash
# Debian's chromium for the dashboard's headless-browser test (tests/test_dashboard_browser.py).
# Idempotent and quiet when it is already installed.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium >/dev/null
echo "installed: $(chromium --version 2>/dev/null || echo chromium)"

#!/usr/bin/env bash
# System packages the service tests need (the machine starts PostgreSQL and Redis itself).
set -euo pipefail
cd "$(dirname "$0")/.."
for script in .ci/install-*.sh; do
  [ "$script" = ".ci/install-system-deps.sh" ] && continue
  echo "+ bash $script"
  bash "$script"
done

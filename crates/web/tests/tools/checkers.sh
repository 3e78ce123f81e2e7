#!/usr/bin/env bash
# Installs the outside checkers the page tests run, from the npm registry, into
# a cache directory (argument 1, or $CUSTODIAN_CHECKERS_DIR) unless they are
# there already, and prints that directory:
#   node_modules/axe-core/axe.min.js        axe-core (Deque), WCAG rules run in Chromium
#   node_modules/vnu-jar/build/dist/vnu.jar the Nu Html Checker (W3C), run with java
# Pinned, so a new release cannot change what passes.
set -euo pipefail
dir="${1:-${CUSTODIAN_CHECKERS_DIR:?give a directory}}"
mkdir -p "$dir"
if [ ! -f "$dir/node_modules/axe-core/axe.min.js" ] || [ ! -f "$dir/node_modules/vnu-jar/build/dist/vnu.jar" ]; then
  command -v npm >/dev/null || { echo "npm is needed to install axe-core and vnu-jar (Debian: apt-get install npm)" >&2; exit 1; }
  (cd "$dir" && npm install --no-audit --no-fund --silent --ignore-scripts axe-core@4.14.1 vnu-jar@26.9.27 >&2)
fi
echo "$dir"

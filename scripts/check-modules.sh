#!/usr/bin/env bash
# The module rules of ARCHITECTURE.md, checked over the source (comments excluded):
#   - an edge module never names another edge module (shared helpers live in core modules);
#   - core modules name no edge module and hold no HTTP client or server type.
# Prints each violation and exits 1 if there is any.
set -euo pipefail
cd "$(dirname "$0")/.."

edges=(oidc s3 vault onyxia proxy web)
core=(identity objects classes secrets store services policy catalog config clock.rs durable.rs sync.rs blocking.rs)
edge_pattern="crate::($(IFS='|'; echo "${edges[*]}"))\\b"
http_pattern='\b(reqwest|axum|hyper|hyper_util|s3s|tower|tower_http)::'

found=0
# Code lines of a module (a directory or one file), as path:line:text, comments left out.
code_lines() {
  local target="src/$1"
  [ -d "$target" ] || target="src/$1.rs"
  [ -e "$target" ] || target="src/$1"
  grep -rnE "$2" "$target" --include='*.rs' | grep -vE '^[^:]+:[0-9]+:\s*//' || true
}

for edge in "${edges[@]}"; do
  while IFS= read -r hit; do
    [ -n "$hit" ] || continue
    other=$(grep -oE "$edge_pattern" <<<"$hit" | head -n 1 | sed 's/crate:://')
    if [ "$other" != "$edge" ]; then
      echo "edge $edge uses edge $other: $hit"
      found=1
    fi
  done < <(code_lines "$edge" "$edge_pattern")
done

for module in "${core[@]}"; do
  while IFS= read -r hit; do
    [ -n "$hit" ] || continue
    echo "core ${module%.rs} depends on an edge or on HTTP: $hit"
    found=1
  done < <(code_lines "$module" "$edge_pattern|$http_pattern")
done

if [ "$found" = 0 ]; then
  echo "module rules hold: no edge uses another edge; core modules name no edge and no HTTP crate"
fi
exit "$found"

#!/usr/bin/env bash
# Vault benchmarks with wrk (16 connections, 10 s each, 127.0.0.1 only): KV v2 reads and
# writes with the root token, and JWT logins with a token of the embedded issuer.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk; }
# ONYXIA_LITE_BIN runs another build, e.g. to compare commits.
if [ -z "${ONYXIA_LITE_BIN:-}" ]; then
  cargo build --release --locked --bin onyxia-lite
fi
bin=${ONYXIA_LITE_BIN:-target/release/onyxia-lite}
work=$(mktemp -d)
server=
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
"$bin" serve --data-dir "$work/data" --port 0 --s3-port 0 --vault-port 0 \
  --print-env "$work/env" >/dev/null 2>&1 &
server=$!
for _ in $(seq 100); do [ -s "$work/env" ] && break; sleep 0.1; done
set -a; . "$work/env"; set +a

curl -sf -X POST -H "X-Vault-Token: $VAULT_TOKEN" -d '{"data":{"user":"app","password":"s3cret"}}' \
  "$VAULT_ADDR/v1/$VAULT_MOUNT/data/bench/k" >/dev/null
jwt=$(curl -sf "$OIDC_TOKEN_URL" -d grant_type=password -d client_id=onyxia -d username=alice -d password=alice \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

cat > "$work/read.lua" <<LUA
wrk.headers["X-Vault-Token"] = "$VAULT_TOKEN"
response = function(status) if status ~= 200 then error("status " .. status) end end
LUA
cat > "$work/write.lua" <<LUA
wrk.method = "POST"
wrk.headers["X-Vault-Token"] = "$VAULT_TOKEN"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"data":{"user":"app","password":"rotated"}}'
response = function(status) if status ~= 200 then error("status " .. status) end end
LUA
cat > "$work/login.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"role":"onyxia-user","jwt":"$jwt"}'
response = function(status) if status ~= 200 then error("status " .. status) end end
LUA
rate() { wrk -t2 -c16 -d10s -s "$1" "$2" | awk '/Requests\/sec/ {print $2}'; }
echo "KV reads,  16 connections: $(rate "$work/read.lua" "$VAULT_ADDR/v1/$VAULT_MOUNT/data/bench/k") /s"
echo "KV writes, 16 connections: $(rate "$work/write.lua" "$VAULT_ADDR/v1/$VAULT_MOUNT/data/bench/k") /s"
echo "JWT logins, 16 connections: $(rate "$work/login.lua" "$VAULT_ADDR/v1/auth/jwt/login") /s"

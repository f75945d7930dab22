#!/usr/bin/env bash
# Schemathesis against the gateway's own OpenAPI document, once with each role's token (admin
# key, supervisor key, integrator key, agent token, customer token): no server errors, every
# status documented, every response body matching its schema, the declared content types.
#
#   scripts/schemathesis.sh            # ST_EXAMPLES=60 examples per operation and role
#
# Starts a debug gateway of its own on a fresh data directory (limits raised so the fuzzer is
# not throttled), installs schemathesis with pip when missing, and prints each role's summary.
# The WebSocket endpoints are left out (schemathesis speaks HTTP only; the authorization
# matrix test covers them).
set -euo pipefail
cd "$(dirname "$0")/.."
examples=${ST_EXAMPLES:-60}
port=${ST_PORT:-18099}
base="http://127.0.0.1:$port"
command -v schemathesis >/dev/null || pip install -q schemathesis
cargo build -q -p gateway
dir=$(mktemp -d)
GATEWAY_BIND=127.0.0.1:$port GATEWAY_DATA_DIR="$dir" GATEWAY_ADMIN_KEY=st-admin-key \
  GATEWAY_CONVERSATIONS_PER_ADDRESS_PER_WINDOW=1000000 GATEWAY_API_KEY_REQUESTS_PER_WINDOW=1000000 \
  GATEWAY_MESSAGES_PER_WINDOW=1000000 GATEWAY_WEBHOOK_ALLOW_PRIVATE=true RUST_LOG=warn \
  target/debug/gateway >"$dir/gateway.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 1 100); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.2; done

json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
post() { curl -sf -X POST "$base$1" -H "authorization: Bearer st-admin-key" -H 'content-type: application/json' -d "$2"; }
supervisor=$(post /v1/api-keys '{"name":"st supervisor","role":"supervisor"}' | json "['key']")
integrator=$(post /v1/api-keys '{"name":"st integrator","role":"integrator"}' | json "['key']")
agent=$(post /v1/agents '{"name":"st agent","skills":["zh"],"max_concurrent":50}' | json "['token']")
customer=$(curl -sf -X POST "$base/v1/conversations" -H 'content-type: application/json' \
  -d '{"customer":{"locale":"zh-CN"}}' | json "['token']")

status=0
for role in admin supervisor integrator agent customer; do
  case $role in
    admin) token=st-admin-key ;;
    supervisor) token=$supervisor ;;
    integrator) token=$integrator ;;
    agent) token=$agent ;;
    customer) token=$customer ;;
  esac
  echo "== $role"
  schemathesis run "$base/v1/openapi.json" -H "Authorization: Bearer $token" \
    --exclude-path-regex '/ws$' --phases fuzzing,stateful -n "$examples" --seed 1 -w 2 \
    -c not_a_server_error,status_code_conformance,response_schema_conformance,content_type_conformance \
    --warnings off 2>&1 | sed -n '/SUMMARY/,$p' || status=1
done
errors=$(grep -c ' ERROR \| panicked' "$dir/gateway.log" || true)
echo "server errors and panics in the log: $errors"
[ "$errors" = 0 ] || status=1
exit $status

#!/usr/bin/env bash
# Runs Ceph's s3-tests — the S3 compatibility suite S3 implementations report against — on an
# ephemeral onyxia-lite, and prints how many of its tests pass. Not part of the test command:
# the suite takes several minutes, and many of its tests need features onyxia-lite does not
# have (docs/S3.md says which).
#
#   scripts/s3-compat.sh [-- PYTEST ARGS]      e.g. -- -k bucket_list
#
# S3_TESTS_DIR   a checkout of the suite (default: cloned into target/s3-tests at the commit
#                below; set it where no git host is reachable)
# ONYXIA_LITE_BIN  the binary to test (default: the release build)
# The main user of the suite is the root user; `alt` and `tenant` are static users with the
# readwrite policy (onyxia-lite has one account, so "other accounts" see each other's buckets).
set -euo pipefail
cd "$(dirname "$0")/.."
commit=8f0ae7b
suite=${S3_TESTS_DIR:-target/s3-tests}
if [ ! -d "$suite" ]; then
  git clone --quiet https://github.com/ceph/s3-tests "$suite"
  git -C "$suite" checkout --quiet "$commit"
fi
venv=target/s3-tests-venv
if [ ! -x "$venv/bin/pytest" ]; then
  echo "installing the suite's Python packages into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet -r "$suite/requirements.txt"
fi
if [ -z "${ONYXIA_LITE_BIN:-}" ]; then
  cargo build --release --locked --bin onyxia-lite >&2
fi
bin=${ONYXIA_LITE_BIN:-${CARGO_TARGET_DIR:-target}/release/onyxia-lite}
[ "${1:-}" = "--" ] && shift

work=$(mktemp -d)
server=
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir "$work/fixtures"
cat > "$work/fixtures/s3.toml" <<'TOML'
[policies]
readwrite = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*"],"Resource":["arn:aws:s3:::*"]}]}'

[[user]]
access_key = "s3testsalt"
secret_key = "s3testsaltsecret"
policies = ["readwrite"]

[[user]]
access_key = "s3teststenant"
secret_key = "s3teststenantsecret"
policies = ["readwrite"]
TOML
"$bin" serve --ephemeral --fixtures "$work/fixtures" --port 0 --s3-port 0 --vault-port 0 \
  --print-env "$work/env" >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 100); do [ -s "$work/env" ] && break; sleep 0.1; done
set -a; . "$work/env"; set +a
port=${AWS_ENDPOINT_URL##*:}
cat > "$work/s3tests.conf" <<CONF
[DEFAULT]
host = 127.0.0.1
port = $port
is_secure = False
ssl_verify = False
[fixtures]
bucket prefix = s3t-{random}-
iam name prefix = s3-tests-
iam path prefix = /s3-tests/
[s3 main]
display_name = root
user_id = root
email = root@example.org
api_name = default
access_key = $AWS_ACCESS_KEY_ID
secret_key = $AWS_SECRET_ACCESS_KEY
[s3 alt]
display_name = s3testsalt
user_id = s3testsalt
email = alt@example.org
access_key = s3testsalt
secret_key = s3testsaltsecret
[s3 tenant]
display_name = s3teststenant
user_id = s3teststenant
email = tenant@example.org
access_key = s3teststenant
secret_key = s3teststenantsecret
tenant = tenant
[iam]
email = s3@example.org
user_id = root
access_key = $AWS_ACCESS_KEY_ID
secret_key = $AWS_SECRET_ACCESS_KEY
display_name = root
[iam root]
access_key = $AWS_ACCESS_KEY_ID
secret_key = $AWS_SECRET_ACCESS_KEY
user_id = root
email = root@example.org
[iam alt root]
access_key = s3testsalt
secret_key = s3testsaltsecret
user_id = s3testsalt
email = alt@example.org
CONF
report=$work/report.xml
(cd "$suite" && S3TEST_CONF="$work/s3tests.conf" "$OLDPWD/$venv/bin/pytest" \
  s3tests/functional/test_s3.py -q -p no:cacheprovider --junitxml="$report" "$@" >&2) || true
python3 - "$report" <<'PY'
import sys
import xml.etree.ElementTree as ET
suite = ET.parse(sys.argv[1]).getroot()
suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
total, failed, errors, skipped = (int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped"))
print(f"s3-tests: {total - failed - errors - skipped} passed, {failed} failed, {errors} errors, {skipped} skipped of {total}")
PY

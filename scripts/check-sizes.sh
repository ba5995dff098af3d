#!/usr/bin/env bash
# The size bar of the source: no function above 120 lines, no file above 800 lines (src/).
# Functions are found by a small lexer that skips strings, raw strings, char literals and
# comments and counts braces. Prints each offender and exits 1 if there is any.
set -euo pipefail
cd "$(dirname "$0")/.."

max_fn=120
max_file=800
found=0

while IFS= read -r file; do
  lines=$(wc -l <"$file")
  if [ "$lines" -gt "$max_file" ]; then
    echo "$file is $lines lines (at most $max_file)"
    found=1
  fi
done < <(find src -name '*.rs' | sort)

long=$(find src -name '*.rs' | sort | xargs -n 1 awk -v MAX="$max_fn" '
function report(name, start, end_,  n) {
  n = end_ - start + 1
  if (n > MAX) printf "%s:%d: fn %s is %d lines (at most %d)\n", FILENAME, start, name, n, MAX
}
FNR == 1 { depth = 0; paren = 0; state = ""; pending = 0; top = 0 }
{
  line = $0
  # A function starts a line; its body opens at the first brace outside its parameters.
  if (state == "" && match(line, /^[ \t]*(pub(\([a-z:_ ]+\))? )?(default )?(const )?(async )?(unsafe )?(extern "C" )?fn [A-Za-z_][A-Za-z0-9_]*/)) {
    sig = substr(line, RSTART, RLENGTH)
    sub(/.*fn /, "", sig)
    pending = 1; pname = sig; pstart = FNR; pparen = paren
  }
  n = length(line)
  for (i = 1; i <= n; i++) {
    c = substr(line, i, 1)
    if (state == "block") {
      if (c == "*" && substr(line, i + 1, 1) == "/") { state = ""; i++ }
      continue
    }
    if (state == "str") {
      if (c == "\\") { i++; continue }
      if (c == "\"") state = ""
      continue
    }
    if (state == "raw") {
      if (c == "\"" && substr(line, i + 1, hashes) == closing) { state = ""; i += hashes }
      continue
    }
    if (c == "/" && substr(line, i + 1, 1) == "/") break
    if (c == "/" && substr(line, i + 1, 1) == "*") { state = "block"; i++; continue }
    if (c == "\"") { state = "str"; continue }
    if (c == "r" && match(substr(line, i), /^r#*"/) && (i == 1 || substr(line, i - 1, 1) !~ /[A-Za-z0-9_]/)) {
      hashes = RLENGTH - 2; closing = substr("##########", 1, hashes); state = "raw"; i += RLENGTH - 1; continue
    }
    if (c == "\x27") {
      # A char literal is skipped; a lifetime is not a literal.
      if (substr(line, i + 1, 1) == "\\") { j = index(substr(line, i + 2), "\x27"); if (j > 0) i += j + 1; continue }
      if (substr(line, i + 2, 1) == "\x27") { i += 2; continue }
      continue
    }
    if (c == "(" || c == "[") paren++
    else if (c == ")" || c == "]") paren--
    else if (c == ";" && pending && paren == pparen) pending = 0
    else if (c == "{") {
      depth++
      if (pending) { top++; name[top] = pname; start[top] = pstart; open[top] = depth; pending = 0 }
    } else if (c == "}") {
      if (top > 0 && open[top] == depth) { report(name[top], start[top], FNR); top-- }
      depth--
    }
  }
}')
if [ -n "$long" ]; then
  echo "$long"
  found=1
fi

if [ "$found" = 0 ]; then
  echo "sizes hold: no function above $max_fn lines, no file above $max_file lines"
fi
exit "$found"

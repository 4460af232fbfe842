#!/usr/bin/env bash
# psql's describe commands against a server: psql_matrix.sh PORT.
# Prints one JSON object: for each command, {"ok": first lines of output} or
# {"error": message, "sqlstate": code}.
set -u
port="$1"
json() { python3 -c 'import json,sys; print(json.dumps(sys.stdin.read().strip()))'; }
out="{"
sep=""
for cmd in '\dt' '\d votes' '\df' '\d+' '\dt+' '\d+ votes' '\du' '\dT' '\dp' '\dn' '\l'; do
  res=$(timeout 60 psql -X -q -h 127.0.0.1 -p "$port" -U prefdb -d prefdb -v VERBOSITY=verbose \
        -v ON_ERROR_STOP=1 -c "$cmd" 2>&1)
  if [ $? -eq 0 ]; then
    val="{\"ok\": $(printf '%s' "$res" | head -n 6 | json)}"
  else
    state=$(printf '%s' "$res" | sed -n 's/^ERROR:  \([0-9A-Z]\{5\}\): .*/\1/p' | head -n 1)
    msg=$(printf '%s' "$res" | grep -m1 -E 'ERROR|FATAL|error|closed' || printf '%s' "$res" | head -n 1)
    val="{\"error\": $(printf '%s' "$msg" | json), \"sqlstate\": $(printf '%s' "$state" | json)}"
  fi
  out="$out$sep$(printf '%s' "$cmd" | json): $val"
  sep=", "
done
echo "$out}"

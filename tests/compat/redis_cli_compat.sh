#!/usr/bin/env bash
# Debian's redis-cli (redis-tools) against a running disque-server.
# Usage: redis_cli_compat.sh PORT
set -euo pipefail
port=$1
passed=0
failed=0
cli() { redis-cli -h 127.0.0.1 -p "$port" "$@"; }
check() { # name, expected, actual
    if [[ "$2" == "$3" ]]; then
        passed=$((passed + 1)); echo "ok   $1"
    else
        failed=$((failed + 1)); echo "FAIL $1"; echo "  expected: $(printf '%q' "$2")"; echo "  actual:   $(printf '%q' "$3")"
    fi
}
check_match() { # name, extended regex, actual
    if [[ "$3" =~ $2 ]]; then
        passed=$((passed + 1)); echo "ok   $1"
    else
        failed=$((failed + 1)); echo "FAIL $1"; echo "  pattern: $2"; echo "  actual:  $(printf '%q' "$3")"
    fi
}

# Start from an empty node (the pydisque checks may have run before).
check "debug flushall" "OK" "$(cli debug flushall)"
check ping "PONG" "$(cli ping)"
id=$(cli addjob rc_q x 0)
check_match "addjob prints the id" '^D-[0-9a-f]{8}-[A-Za-z0-9+/]{24}-05a1$' "$id"
check qlen "1" "$(cli qlen rc_q)"
check "getjob from q" "$(printf 'rc_q\n%s\nx' "$id")" "$(cli getjob from rc_q)"
check ackjob "1" "$(cli ackjob "$id")"
check "show after ack" "" "$(cli show "$id")"
check "qlen after ack" "0" "$(cli qlen rc_q)"
myid=$(cli cluster myid)
check "hello" "$(printf '1\n%s\n%s\n\n%s\n1' "$myid" "$myid" "$port")" "$(cli hello)"
info=$(cli info)
check_match "info has the version" $'disque_version:1\\.0-rc1\r?\n' "$info"
check_match "info has the Jobs section" $'# Jobs\r?\nregistered_jobs:0' "$info"
check "info jobs" "$(printf '# Jobs\r\nregistered_jobs:0\r\nunderreplicated_jobs:0\r\nrereplicated_jobs:0\r')" "$(cli info jobs)"
check "unknown command" "ERR unknown command 'nosuch'" "$(cli nosuch 2>&1 | head -n1)"
# Pipe mode: commands from standard input, replies in order.
check "stdin batch" "$(printf 'PONG\n0\nPONG')" "$(printf 'PING\nQLEN rc_none\nPING\n' | cli)"
echo "redis-cli: $passed passed, $failed failed"
[[ $failed -eq 0 ]]

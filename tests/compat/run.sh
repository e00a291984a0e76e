#!/usr/bin/env bash
# Compatibility tests: pydisque 0.1.5 (redis-py < 8) and Debian's redis-cli
# against a disque-server that this script starts on a free loopback port
# and always stops on exit.
#
# Needs: target/debug/disque-server (cargo build), .venv with pydisque
# (scripts/test creates it), redis-cli. Override with DISQUE_SERVER, PYTHON.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
server=${DISQUE_SERVER:-$root/target/debug/disque-server}
python=${PYTHON:-$root/.venv/bin/python}

workdir=$(mktemp -d "${TMPDIR:-/tmp}/disque-compat.XXXXXX")
pid=""
cleanup() {
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    rm -rf "$workdir"
}
trap cleanup EXIT INT TERM

# A port whose client and bus (+10000) ports are both free on 127.0.0.1.
free_port() {
    "$python" - <<'PY'
import random, socket
for _ in range(1000):
    port = random.randint(20000, 45000)
    socks = []
    try:
        for p in (port, port + 10000):
            s = socket.socket()
            s.bind(("127.0.0.1", p))
            socks.append(s)
    except OSError:
        continue
    finally:
        for s in socks:
            s.close()
    print(port)
    break
PY
}

start_server() {
    local attempt deadline
    for attempt in 1 2 3 4 5; do
        port=$(free_port)
        "$server" --port "$port" --bind 127.0.0.1 --dir "$workdir" \
            >"$workdir/server.log" 2>&1 &
        pid=$!
        deadline=$((SECONDS + 20))
        while ((SECONDS < deadline)); do
            if ! kill -0 "$pid" 2>/dev/null; then
                break # exited (port taken?): try another port
            fi
            # Make sure the server answering is ours.
            if [[ "$(redis-cli -h 127.0.0.1 -p "$port" info server 2>/dev/null |
                tr -d '\r' | sed -n 's/^process_id://p')" == "$pid" ]]; then
                return 0
            fi
            sleep 0.05
        done
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        pid=""
        echo "compat: server did not start on port $port (attempt $attempt):" >&2
        cat "$workdir/server.log" >&2 || true
    done
    return 1
}

start_server
echo "compat: disque-server pid $pid on port $port"

status=0
"$python" "$root/tests/compat/pydisque_compat.py" "$port" || status=1
"$root/tests/compat/redis_cli_compat.sh" "$port" || status=1
exit $status

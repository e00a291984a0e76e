#!/usr/bin/env bash
# Compatibility tests: pydisque 0.1.5 (redis-py < 8) and Debian's redis-cli
# against a disque-server that this script starts on a free loopback port,
# then pydisque against a 3-node cluster (joined with CLUSTER MEET); every
# server started here is stopped on exit.
#
# Needs: target/debug/disque-server (cargo build), .venv with pydisque
# (scripts/test creates it), redis-cli. Override with DISQUE_SERVER, PYTHON.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
server=${DISQUE_SERVER:-$root/target/debug/disque-server}
python=${PYTHON:-$root/.venv/bin/python}

workdir=$(mktemp -d "${TMPDIR:-/tmp}/disque-compat.XXXXXX")
pid=""
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do
        if kill -0 "$p" 2>/dev/null; then
            kill "$p" 2>/dev/null || true
            wait "$p" 2>/dev/null || true
        fi
    done
    rm -rf "$workdir"
}
trap cleanup EXIT INT TERM

# A port whose client and bus (+10000) ports are both free on 127.0.0.1.
free_port() {
    "$python" "$root/tests/compat/compat_common.py" free-port
}

# Starts a server in directory $1 (default: $workdir) with the extra
# options that follow; leaves its port in $port and its pid in $pid.
start_server() {
    local attempt deadline dir=${1:-$workdir}
    shift || true
    mkdir -p "$dir"
    for attempt in 1 2 3 4 5; do
        port=$(free_port)
        "$server" --port "$port" --bind 127.0.0.1 --dir "$dir" "$@" \
            >"$dir/server.log" 2>&1 &
        pid=$!
        pids+=("$pid")
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
        cat "$dir/server.log" >&2 || true
    done
    return 1
}

start_server
echo "compat: disque-server pid $pid on port $port"

status=0
"$python" "$root/tests/compat/pydisque_compat.py" "$port" || status=1
"$root/tests/compat/redis_cli_compat.sh" "$port" || status=1

# A 3-node cluster: node 1 meets the two others, gossip does the rest.
cluster_ports=()
for n in 1 2 3; do
    start_server "$workdir/node$n"
    cluster_ports+=("$port")
done
echo "compat: 3-node cluster on ports ${cluster_ports[*]}"
for p in "${cluster_ports[@]:1}"; do
    redis-cli -h 127.0.0.1 -p "${cluster_ports[0]}" cluster meet 127.0.0.1 "$p" >/dev/null
done
joined() {
    local p
    for p in "${cluster_ports[@]}"; do
        [[ "$(redis-cli -h 127.0.0.1 -p "$p" cluster info 2>/dev/null |
            tr -d '\r' | sed -n 's/^cluster_reachable_nodes://p')" == 2 ]] || return 1
    done
}
deadline=$((SECONDS + 20))
until joined; do
    if ((SECONDS >= deadline)); then
        echo "compat: the cluster did not join" >&2
        exit 1
    fi
    sleep 0.05
done
"$python" "$root/tests/compat/pydisque_cluster_compat.py" "${cluster_ports[@]}" || status=1

# TLS (decision D13): certificates made here with openssl, a node with a TLS
# port, then redis-cli --tls, redis-py and pydisque over it.
tls=$workdir/tls
mkdir -p "$tls"
(
    cd "$tls"
    ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
    openssl req -x509 "${ec[@]}" -days 2 -subj /CN=disque-test-ca -keyout ca.key -out ca.pem
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n' >node.ext
    printf 'extendedKeyUsage=clientAuth\n' >client.ext
    for who in node client; do
        openssl req "${ec[@]}" -subj "/CN=$who" -keyout "$who.key" -out "$who.csr"
        openssl x509 -req -in "$who.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
            -extfile "$who.ext" -out "$who.pem"
    done
) >/dev/null 2>&1
tls_port=$(free_port)
start_server "$workdir/tls-node" --tls-port "$tls_port" --tls-cert-file "$tls/node.pem" \
    --tls-key-file "$tls/node.key" --tls-ca-cert-file "$tls/ca.pem"
echo "compat: TLS node on port $tls_port"
tls_cli=(redis-cli --tls --cacert "$tls/ca.pem" --cert "$tls/client.pem" --key "$tls/client.key"
    -h 127.0.0.1 -p "$tls_port")
if [[ "$("${tls_cli[@]}" ping 2>&1)" == PONG ]]; then
    echo "ok   redis-cli --tls ping"
else
    echo "FAIL redis-cli --tls ping: $("${tls_cli[@]}" ping 2>&1)"
    status=1
fi
"$python" "$root/tests/compat/tls_compat.py" "$tls_port" "$tls/ca.pem" "$tls/client.pem" \
    "$tls/client.key" || status=1
exit $status

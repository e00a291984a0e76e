"""redis-py and pydisque 0.1.5 over TLS (decision D13) against a running
disque-server with a TLS port.

Usage: python tls_compat.py TLS_PORT CA_PEM CERT_PEM KEY_PEM

pydisque opens its connections with redis.Redis(host, port) and has no TLS
option of its own, so its redis client is given the TLS settings (a shim
around redis.Redis); redis-py is also checked directly. Prints one line per
check and a closing 'N passed, N failed' line; exits 1 on any failure.
"""

import functools
import logging
import sys
import types

import redis
import pydisque.client
from pydisque.client import Client
from compat_common import run_checks

logging.disable(logging.CRITICAL)

PORT = int(sys.argv[1])
CA, CERT, KEY = sys.argv[2:5]
HOST = "127.0.0.1"
TLS = dict(ssl=True, ssl_ca_certs=CA, ssl_certfile=CERT, ssl_keyfile=KEY)


def check_redis_py_over_tls():
    r = redis.Redis(host=HOST, port=PORT, **TLS)
    job = r.execute_command("ADDJOB", "tls-q", "tls-body", 0)
    got = r.execute_command("GETJOB", "NOHANG", "FROM", "tls-q")
    assert got[0][1] == job and got[0][2] == b"tls-body", got
    assert r.execute_command("ACKJOB", job) == 1


def check_redis_py_refused_without_certificate():
    r = redis.Redis(host=HOST, port=PORT, ssl=True, ssl_ca_certs=CA)
    try:
        r.execute_command("PING")
    except (redis.exceptions.ConnectionError, OSError):
        return
    raise AssertionError("a client without a certificate was served")


def check_pydisque_over_tls():
    shim = types.SimpleNamespace(**vars(redis))
    shim.Redis = functools.partial(redis.Redis, **TLS)
    real = pydisque.client.redis
    pydisque.client.redis = shim
    try:
        c = Client(["%s:%d" % (HOST, PORT)])
        c.connect()
        job = c.add_job("tls-pq", "hello over tls", timeout=100)
        jobs = c.get_job(["tls-pq"], timeout=100)
        assert len(jobs) == 1, jobs
        queue, got, body = jobs[0]
        assert got == job and body == b"hello over tls", jobs
        c.ack_job(got)
    finally:
        pydisque.client.redis = real


def main():
    return run_checks(globals(), "tls")


if __name__ == "__main__":
    sys.exit(main())

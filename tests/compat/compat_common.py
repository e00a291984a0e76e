"""Helpers shared by the compatibility scripts (stdlib only).

`python compat_common.py free-port` prints a free port (used by run.sh).
"""

import random
import socket
import sys
import traceback


def s(value):
    """bytes -> str (redis-py returns bytes without decode_responses)."""
    if isinstance(value, bytes):
        return value.decode()
    return value


def free_port():
    """A port whose client and bus (+10000) ports are both free on
    127.0.0.1, or None after 1000 tries."""
    for _ in range(1000):
        port = random.randint(20000, 45000)
        socks = []
        try:
            for p in (port, port + 10000):
                sock = socket.socket()
                sock.bind(("127.0.0.1", p))
                socks.append(sock)
            return port
        except OSError:
            continue
        finally:
            for sock in socks:
                sock.close()
    return None


def run_checks(namespace, label):
    """Runs every callable named check_* in `namespace` (a module's
    globals()), in name order; prints one line per check and a closing
    '<label>: N passed, N failed' line. Returns the exit status: 1 on any
    failure."""
    checks = [(name, fn) for name, fn in sorted(namespace.items())
              if name.startswith("check_") and callable(fn)]
    passed = failed = 0
    for name, fn in checks:
        try:
            fn()
        except Exception:
            failed += 1
            print("FAIL %s" % name)
            traceback.print_exc()
        else:
            passed += 1
            print("ok   %s" % name)
    print("%s: %d passed, %d failed" % (label, passed, failed))
    return 1 if failed else 0


if __name__ == "__main__" and sys.argv[1:] == ["free-port"]:
    print(free_port())

"""pydisque 0.1.5 (with redis-py < 8) against a running 3-node cluster.

Usage: python pydisque_cluster_compat.py PORT1 PORT2 PORT3

The nodes must already be joined. Each check is a function named check_*;
the script prints one line per check and a closing 'N passed, N failed'
line, and exits 1 on any failure.
"""

import logging
import sys
import time

from pydisque.client import Client
from compat_common import run_checks, s

# pydisque logs every retried error reply at CRITICAL level.
logging.disable(logging.CRITICAL)

PORTS = [int(p) for p in sys.argv[1:]]
HOST = "127.0.0.1"



def client(i):
    """A pydisque client connected to node i only."""
    c = Client(["%s:%d" % (HOST, PORTS[i])])
    c.connect()
    return c


def node_ids():
    return [s(client(i).hello()[1]) for i in range(len(PORTS))]


def poll(what, cond, timeout=3.0):
    deadline = time.time() + timeout
    while not cond():
        if time.time() > deadline:
            raise AssertionError("timed out after %.1f s waiting for %s" % (timeout, what))
        time.sleep(0.02)


def check_hello_lists_every_node():
    ids = node_ids()
    assert len(set(ids)) == len(PORTS), ids
    for i in range(len(PORTS)):
        hello = client(i).hello()
        assert hello[0] == 1, hello
        assert s(hello[1]) == ids[i], hello
        nodes = {s(n[0]): [s(x) for x in n] for n in hello[2:]}
        assert sorted(nodes) == sorted(ids), hello
        for j, node_id in enumerate(ids):
            _, ip, port, prio = nodes[node_id]
            assert ip == HOST and port == str(PORTS[j]) and prio == "1", nodes[node_id]


def check_replicate_3_visible_on_every_node():
    ids = node_ids()
    # pydisque's default ADDJOB timeout is 200 ms: synchronous replication
    # to 3 nodes must finish well inside it.
    job_id = s(client(0).add_job("pyc_r3", "body"))
    assert job_id.startswith("D-" + ids[0][:8]), job_id
    for i in range(len(PORTS)):
        show = client(i).show(job_id, return_dict=True)
        assert show is not None, "node %d does not hold %s" % (i, job_id)
        show = {s(k): v for k, v in show.items()}
        assert show["repl"] == 3, show
        assert sorted(s(x) for x in show["nodes-delivered"]) == sorted(ids), show
        assert s(show["state"]) == ("queued" if i == 0 else "active"), show
    assert client(0).qlen("pyc_r3") == 1
    assert client(1).qlen("pyc_r3") == 0


def ack_elsewhere_and_wait_gone(queue, node, ack, what):
    """Adds a job to `queue` on node 0, acknowledges it on `node` with
    `ack(client, job_id)` and waits until no node knows it; the clients."""
    job_id = s(client(0).add_job(queue, "body"))
    ack(client(node), job_id)
    clients = [client(i) for i in range(len(PORTS))]
    poll("%s to remove %s everywhere" % (what, job_id),
         lambda: all(c.show(job_id) is None for c in clients))
    return clients


def check_ack_propagates():
    clients = ack_elsewhere_and_wait_gone(
        "pyc_ack", 1, lambda c, job_id: c.ack_job(job_id), "the ack")
    assert clients[0].qlen("pyc_ack") == 0


def check_fast_ack_propagates():
    ack_elsewhere_and_wait_gone(
        "pyc_fack", 2, lambda c, job_id: c.fast_ack(job_id), "FASTACK")


def check_getjob_on_another_node_pulls_the_job():
    job_id = s(client(0).add_job("pyc_fed", "hello", replicate=1))
    assert client(2).show(job_id) is None
    c2 = client(2)
    jobs = c2.get_job(["pyc_fed"], timeout=5000)
    # pydisque names the tuple (job_id, queue_name, job); the server's entry
    # is [queue, id, body].
    assert [tuple(s(x) for x in j) for j in jobs] == [("pyc_fed", job_id, "hello")], jobs
    c2.ack_job(job_id)
    clients = [client(i) for i in range(len(PORTS))]
    poll("the ack on the importing node to reach the source",
         lambda: all(c.show(job_id) is None for c in clients))


def check_getjob_on_another_node_replicated():
    job_id = s(client(0).add_job("pyc_fed3", "hello"))
    jobs = client(1).get_job(["pyc_fed3"], timeout=5000)
    assert [tuple(s(x) for x in j) for j in jobs] == [("pyc_fed3", job_id, "hello")], jobs
    assert client(0).qlen("pyc_fed3") == 0


def main():
    return run_checks(globals(), "pydisque cluster")


if __name__ == "__main__":
    sys.exit(main())

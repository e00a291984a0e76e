"""pydisque 0.1.5 (with redis-py < 8) against a running disque-server.

Usage: python pydisque_compat.py PORT

Each check is a function named check_*; the script prints one line per
check and a closing 'N passed, N failed' line, and exits 1 on any failure.
"""

import logging
import sys
import time

import redis
from pydisque.client import Client
from compat_common import run_checks, s

# pydisque logs every retried error reply at CRITICAL level: keep the
# output readable.
logging.disable(logging.CRITICAL)

PORT = int(sys.argv[1])
HOST = "127.0.0.1"



def fresh_client():
    client = Client(["%s:%d" % (HOST, PORT)])
    client.connect()
    return client


def check_connect_and_hello():
    c = fresh_client()
    hello = c.hello()
    assert hello[0] == 1, hello
    myid = s(hello[1])
    assert len(myid) == 40, hello
    nodes = hello[2:]
    assert len(nodes) == 1, hello
    node = [s(x) for x in nodes[0]]
    assert node[0] == myid and node[2] == str(PORT) and node[3] == "1", node


def check_add_get_ack():
    c = fresh_client()
    job_id = s(c.add_job("py_q1", "hello"))
    assert job_id.startswith("D-") and len(job_id) == 40, job_id
    assert c.qlen("py_q1") == 1
    jobs = c.get_job(["py_q1"])
    # pydisque names the tuple (job_id, queue_name, job) but the server's
    # entry is [queue, id, body]; check the positions.
    assert [tuple(s(x) for x in j) for j in jobs] == [("py_q1", job_id, "hello")], jobs
    assert c.qlen("py_q1") == 0
    c.ack_job(job_id)
    assert c.show(job_id) is None


def check_show():
    c = fresh_client()
    job_id = s(c.add_job("py_show", "body", retry=7, ttl=100))
    info = c.show(job_id, return_dict=True)
    info = {s(k): v for k, v in info.items()}
    assert list(info)[:3] == ["id", "queue", "state"], info
    assert len(info) == 15, info
    assert s(info["id"]) == job_id
    assert s(info["queue"]) == "py_show"
    assert s(info["state"]) == "queued"
    assert info["retry"] == 7 and info["repl"] == 1 and info["nacks"] == 0, info
    assert 99 <= info["ttl"] <= 100, info
    assert s(info["body"]) == "body"
    assert info["nodes-confirmed"] == []
    assert len(info["nodes-delivered"]) == 1


def check_qstat():
    c = fresh_client()
    for i in range(3):
        c.add_job("py_qstat", "b%d" % i)
    c.get_job(["py_qstat"])
    st = c.qstat("py_qstat", return_dict=True)
    st = {s(k): v for k, v in st.items()}
    assert list(st) == ["name", "len", "age", "idle", "blocked", "import-from",
                        "import-rate", "jobs-in", "jobs-out", "pause"], st
    assert s(st["name"]) == "py_qstat"
    assert st["len"] == 2 and st["jobs-in"] == 3 and st["jobs-out"] == 1, st
    assert st["import-from"] == [] and st["import-rate"] == 0, st
    assert s(st["pause"]) == "none"
    assert c.qstat("py_never_seen") is None


def check_qpeek_enqueue_dequeue_deljob():
    c = fresh_client()
    a = s(c.add_job("py_peek", "a"))
    b = s(c.add_job("py_peek", "b"))
    peek = c.qpeek("py_peek", 2)
    assert [[s(x) for x in e] for e in peek] == [["py_peek", a, "a"], ["py_peek", b, "b"]], peek
    assert c.qpeek("py_peek_empty", 3) == []
    assert c.dequeue(a) == 1
    assert c.qlen("py_peek") == 1
    assert c.enqueue(a) == 1
    assert c.qlen("py_peek") == 2
    assert c.del_job(a, b) == 2
    assert c.qlen("py_peek") == 0


def check_qscan_jscan():
    c = fresh_client()
    ids = [s(c.add_job("py_scan", "x%d" % i)) for i in range(3)]
    cursor, queues = c.qscan(busyloop=True)
    assert s(cursor) == "0"
    assert "py_scan" in [s(q) for q in queues], queues
    cursor, queues = c.qscan(busyloop=True, minlen=3)
    assert "py_scan" in [s(q) for q in queues], queues
    cursor, jobs = c.jscan(busyloop=True, queue="py_scan")
    assert s(cursor) == "0"
    assert sorted(s(j) for j in jobs) == sorted(ids), jobs
    cursor, jobs = c.jscan(busyloop=True, queue="py_scan", state=["queued"])
    assert len(jobs) == 3, jobs
    cursor, jobs = c.jscan(busyloop=True, queue="py_scan", state=["active"])
    assert jobs == [], jobs
    cursor, jobs = c.jscan(busyloop=True, queue="py_scan", reply="all")
    assert len(jobs) == 3 and all(len(j) == 30 for j in jobs), jobs
    # Iterating with a small COUNT reaches every job.
    seen, cursor = set(), 0
    for _ in range(1000):
        cursor, jobs = c.jscan(cursor=cursor, count=1)
        seen.update(s(j) for j in jobs)
        cursor = int(s(cursor))
        if cursor == 0:
            break
    assert set(ids) <= seen, (ids, seen)
    c.del_job(*ids)


def check_pause():
    c = fresh_client()
    assert s(c.pause("py_pause", kw_in=True)) == "in"
    try:
        c.add_job("py_pause", "b")
    except redis.exceptions.ResponseError as e:
        assert str(e).startswith("PAUSED"), str(e)
    else:
        raise AssertionError("ADDJOB on a paused queue succeeded")
    assert s(c.pause("py_pause", kw_state=True)) == "in"
    st = c.qstat("py_pause", return_dict=True)
    assert s(st[b"pause"]) == "in", st
    assert s(c.pause("py_pause", kw_in=True, kw_out=True)) == "all"
    assert s(c.pause("py_pause", kw_none=True)) == "none"
    c.add_job("py_pause", "b")
    assert c.qlen("py_pause") == 1


def check_nack_and_counters():
    c = fresh_client()
    job_id = s(c.add_job("py_nack", "n"))
    c.get_job(["py_nack"])
    c.nack_job(job_id)
    assert c.qlen("py_nack") == 1
    jobs = c.get_job(["py_nack"], withcounters=True)
    assert len(jobs) == 1, jobs
    queue, jid, body, nacks, additional = jobs[0]
    assert (s(queue), s(jid), s(body)) == ("py_nack", job_id, "n"), jobs
    assert (nacks, additional) == (1, 0), jobs
    assert c.working(job_id) == 300
    c.fast_ack(job_id)
    assert c.show(job_id) is None


def check_getjob_timeout_and_nohang():
    c = fresh_client()
    t0 = time.time()
    assert c.get_job(["py_empty"], timeout=300) == []
    took = time.time() - t0
    assert 0.29 <= took < 1.5, took
    assert c.get_job(["py_empty"], nohang=True) == []
    ids = [s(c.add_job("py_count", str(i))) for i in range(3)]
    jobs = c.get_job(["py_count"], count=2)
    assert [s(j[1]) for j in jobs] == ids[:2], jobs


def check_errors():
    c = fresh_client()
    try:
        c.show("foo")
    except redis.exceptions.ResponseError as e:
        assert str(e) == "BADID Invalid Job ID format.", str(e)
    else:
        raise AssertionError("SHOW foo succeeded")
    try:
        c.add_job("py_err", "b", maxlen=1)
        c.add_job("py_err", "b", maxlen=1)
    except redis.exceptions.ResponseError as e:
        assert str(e).startswith("MAXLEN"), str(e)
    else:
        raise AssertionError("MAXLEN not enforced")


def check_extensions_as_raw_commands():
    """Decisions D16-D18 sent as raw commands (pydisque predates them)."""
    c = fresh_client()
    # D18: PRIORITY, higher first; SHOW adds `priority` when it is not 5.
    low = s(c.execute_command("ADDJOB", "py_prio", "low", 0, "PRIORITY", 1))
    plain = s(c.execute_command("ADDJOB", "py_prio", "plain", 0))
    high = s(c.execute_command("ADDJOB", "py_prio", "high", 0, "PRIORITY", 9))
    assert [s(e[1]) for e in c.qpeek("py_prio", 10)] == [high, plain, low]
    info = {s(k): v for k, v in c.show(high, return_dict=True).items()}
    assert len(info) == 16 and info["priority"] == 9, info
    assert len(c.show(plain, return_dict=True)) == 15
    jobs = c.get_job(["py_prio"], count=3)
    assert [s(j[1]) for j in jobs] == [high, plain, low], jobs
    # D17: DEADLETTER, moved after max-deliveries.
    poison = s(c.execute_command("ADDJOB", "py_dl", "x", 0, "RETRY", 60,
                                 "DEADLETTER", "py_dead", 1))
    info = {s(k): v for k, v in c.show(poison, return_dict=True).items()}
    assert s(info["dead-letter-queue"]) == "py_dead", info
    assert info["max-deliveries"] == 1, info
    c.get_job(["py_dl"])
    c.nack_job(poison)
    assert c.qlen("py_dl") == 0 and c.qlen("py_dead") == 1
    assert [s(j[1]) for j in c.get_job(["py_dead"])] == [poison]
    # D16: NACK DELAY, queued again only after the delay.
    job_id = s(c.add_job("py_nd", "n"))
    c.get_job(["py_nd"])
    t0 = time.time()
    assert c.execute_command("NACK", "DELAY", 1, job_id) == 1
    assert c.qlen("py_nd") == 0
    while c.qlen("py_nd") == 0:
        assert time.time() - t0 < 5, "never requeued"
        time.sleep(0.05)
    assert time.time() - t0 >= 1.0
    assert c.show(job_id, return_dict=True)[b"nacks"] == 1
    # Errors.
    for command, text in [
        (("ADDJOB", "py_e", "b", 0, "PRIORITY", 10),
         "PRIORITY must be between 0 and 9"),
        (("ADDJOB", "py_e", "b", 0, "DEADLETTER", "py_d", -1),
         "DEADLETTER max-deliveries must be a positive number"),
        (("ADDJOB", "py_e", "b", 0, "DEADLETTER", "py_e", 3),
         "DEADLETTER queue must be different from the job queue"),
        (("NACK", "DELAY", "abc", job_id),
         "DELAY time must be a non negative number"),
    ]:
        try:
            c.execute_command(*command)
        except redis.exceptions.ResponseError as e:
            assert str(e) == text, (command, str(e))
        else:
            raise AssertionError("%r succeeded" % (command,))


def check_info():
    c = fresh_client()
    info = c.info()
    # redis-py parses INFO into a dict.
    assert info["disque_version"] == "1.0-rc1", info
    assert info["loading"] == 0, info
    assert "registered_jobs" in info


def main():
    return run_checks(globals(), "pydisque")


if __name__ == "__main__":
    sys.exit(main())

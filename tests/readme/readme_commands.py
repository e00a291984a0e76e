#!/usr/bin/env python3
"""Runs the README's commands the way a new user would, from the README text.

1. The first command of "The two commands" (`cargo run --release -p
   disque-server`), taken from the README, started from a scratch directory
   inside the checkout with `-- --port P` appended (P is a free port, so the
   test never needs 7711). It must answer PING within the deadline.
2. The build command named in "Using it" (`cargo build --release -p
   disque-cli`), then every `$ disque ...` line of that section's example,
   with `-p 7711` replaced by `-p P`; each output must equal the README's,
   where the job id the README shows stands for the id ADDJOB returned.

Every process started here is killed on exit. Standard library only.
"""

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "compat"))
from compat_common import free_port  # noqa: E402 (found through ROOT)
README = os.path.join(ROOT, "README.md")
START_DEADLINE_S = 900  # a cold `cargo run --release` compiles first
JOB_ID = re.compile(r"D-[0-9a-f]{8}-[A-Za-z0-9+/]{24}-[0-9a-f]{4}")


def fail(msg):
    print(f"readme: FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def section(text, heading):
    """The body of the `## heading` section (up to the next `## `)."""
    m = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    if not m:
        fail(f"README has no '## {heading}' section")
    return m.group(1)


def first_sh_block(body, where):
    m = re.search(r"^```sh\n(.*?)^```", body, re.M | re.S)
    if not m:
        fail(f"no ```sh block in '{where}'")
    return m.group(1).splitlines()


def pings(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def main():
    text = open(README, encoding="utf-8").read()

    # 1. The first command, as written.
    commands = [l for l in first_sh_block(section(text, "The two commands"), "The two commands")
                if l.strip() and not l.lstrip().startswith("#")]
    run_node = shlex.split(commands[0])
    print(f"readme: first command: {commands[0]}")
    if "--" not in run_node:
        run_node.append("--")
    port = free_port() or fail("no free port")
    run_node += ["--port", str(port)]

    os.makedirs(os.path.join(ROOT, "target"), exist_ok=True)
    scratch = tempfile.mkdtemp(prefix="readme-test.", dir=os.path.join(ROOT, "target"))
    log = open(os.path.join(scratch, "node.log"), "w")
    node = subprocess.Popen(run_node, cwd=scratch, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + START_DEADLINE_S
        while not pings(port):
            if node.poll() is not None:
                log.flush()
                fail(f"the first command exited with {node.returncode}:\n"
                     + open(os.path.join(scratch, "node.log")).read()[-3000:])
            if time.monotonic() > deadline:
                fail("the first command did not answer PING in time")
            time.sleep(0.1)
        print(f"readme: node up on port {port}")

        # 2. The CLI build command and the example session.
        using = section(text, "Using it")
        build = re.search(r"`(cargo build [^`]*-p disque-cli[^`]*)`", using)
        if not build:
            fail("'Using it' does not say how to build the disque CLI")
        print(f"readme: building the CLI: {build.group(1)}")
        subprocess.run(shlex.split(build.group(1)), cwd=ROOT, check=True)
        env = dict(os.environ, PATH=os.path.join(ROOT, "target", "release") + os.pathsep
                   + os.environ["PATH"])
        check_session(first_sh_block(using, "Using it"), port, env)
    finally:
        try:
            os.killpg(node.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        node.wait()
        log.close()
        shutil.rmtree(scratch, ignore_errors=True)
    print("readme: OK")


def check_session(lines, port, env):
    """Runs each `$ cmd` line and compares its output with the lines below it."""
    steps = []
    for line in lines:
        if line.startswith("$ "):
            steps.append((line[2:], []))
        elif steps:
            steps[-1][1].append(line)
    if not steps:
        fail("the 'Using it' example has no '$ ' commands")
    readme_id, real_id = None, None
    for cmd, expected in steps:
        argv = shlex.split(cmd)
        if argv[0] != "disque":
            fail(f"unexpected command in the example: {cmd}")
        argv = [str(port) if a == "7711" and argv[i - 1] == "-p" else a
                for i, a in enumerate(argv)]
        if readme_id:
            argv = [real_id if a == readme_id else a for a in argv]
        out = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30)
        got = out.stdout.splitlines()
        if readme_id is None:
            ids = [l for l in expected if JOB_ID.fullmatch(l)]
            real = [l for l in got if JOB_ID.fullmatch(l)]
            if ids and real:
                readme_id, real_id = ids[0], real[0]
        want = [l.replace(readme_id, real_id) if readme_id else l for l in expected]
        if got != want:
            fail(f"`{cmd}` printed {got!r}, the README shows {want!r} (stderr: {out.stderr!r})")
        print(f"readme: ok: {cmd}")


if __name__ == "__main__":
    main()

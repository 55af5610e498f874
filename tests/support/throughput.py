"""Measure TCP throughput between two network namespaces (e.g. two containers' namespaces).

A receiver and a sender run as small Python processes entered into the namespaces with
`nsenter --net` (the containers' own images need no tools, and the processes stay outside the
containers' CPU limits, so only the network path is measured). The sender writes zeros as fast
as it can; the receiver counts bytes over a fixed window after a warm-up, which skips TCP slow
start and the shaper's initial burst.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from dataclasses import dataclass

WARMUP_S = 0.5
WINDOW_S = 2.0

_RECEIVER = r"""
import socket, sys, time
port, window, warmup = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("0.0.0.0", port))
server.listen(1)
print("ready", flush=True)
server.settimeout(10)
conn, _ = server.accept()
conn.settimeout(10)
view = memoryview(bytearray(1 << 18))
first, counted = None, 0
while True:
    n = conn.recv_into(view)
    now = time.monotonic()
    if n == 0:
        break
    first = now if first is None else first
    if now - first > warmup + window:
        break
    if now - first >= warmup:
        counted += n
print(counted * 8 / window / 1e6, flush=True)
"""

_SENDER = r"""
import socket, sys, time
host, port, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
conn = socket.create_connection((host, port), timeout=10)
chunk = bytes(1 << 18)
deadline = time.monotonic() + seconds
try:
    while time.monotonic() < deadline:
        conn.sendall(chunk)
except OSError:
    pass
"""


@dataclass(frozen=True)
class Endpoint:
    """A network namespace to measure from or to: a process inside it and an address in it."""

    pid: int
    ip: str


def _in_netns(pid: int, script: str, *args: str) -> list[str]:
    return ["nsenter", f"--net=/proc/{pid}/ns/net", sys.executable, "-c", script, *args]


def measure_mbit(
    sender: Endpoint,
    receiver: Endpoint,
    *,
    port: int = 5201,
    window_s: float = WINDOW_S,
    warmup_s: float = WARMUP_S,
) -> float:
    """Mbit/s of TCP payload `sender` gets through to `receiver` over `window_s` seconds."""
    recv = subprocess.Popen(
        _in_netns(receiver.pid, _RECEIVER, str(port), str(window_s), str(warmup_s)),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert recv.stdout is not None
        if recv.stdout.readline().strip() != "ready":
            raise RuntimeError(f"the receiver in process {receiver.pid}'s namespace did not start")
        send = subprocess.Popen(
            _in_netns(sender.pid, _SENDER, receiver.ip, str(port), str(window_s + warmup_s + 5))
        )
        try:
            answer = recv.stdout.readline().strip()
            recv.wait(timeout=30)
        finally:
            send.kill()
            send.wait()
    finally:
        recv.kill()
        recv.wait()
    if not answer:
        raise RuntimeError(f"no measurement from {sender} to {receiver}")
    return float(answer)


def measure_together(*pairs: tuple[Endpoint, Endpoint, int]) -> list[float]:
    """Several (sender, receiver, port) measurements at the same time, in the order given."""
    results: list[float | BaseException] = [0.0] * len(pairs)

    def run(i: int, sender: Endpoint, receiver: Endpoint, port: int) -> None:
        try:
            results[i] = measure_mbit(sender, receiver, port=port)
        except BaseException as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i, *pair)) for i, pair in enumerate(pairs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return [float(r) for r in results]  # type: ignore[arg-type]

"""Just enough of the DNS wire format for tests to ask real DNS servers (PowerDNS, dnsmasq) and
to play a fake upstream resolver on loopback: queries, and answers of A and SRV records."""

from __future__ import annotations

import random
import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

TYPES = {"A": 1, "NS": 2, "SOA": 6, "SRV": 33, "ANY": 255}
NAMES = {number: name for name, number in TYPES.items()}
NOERROR, NXDOMAIN = 0, 3


@dataclass(frozen=True)
class Reply:
    rcode: int
    answers: tuple[tuple[str, str, object], ...]
    """(name, type, value): an address for A, (priority, weight, port, target) for SRV."""

    def values(self, qtype: str) -> list[object]:
        return sorted(value for _, kind, value in self.answers if kind == qtype)  # type: ignore[type-var]


def encode_name(name: str) -> bytes:
    labels = [label.encode() for label in name.rstrip(".").split(".") if label]
    return b"".join(bytes([len(label)]) + label for label in labels) + b"\0"


def query(name: str, qtype: str = "A", *, ident: int | None = None) -> bytes:
    header = struct.pack(">HHHHHH", ident or random.randrange(1, 65535), 0x0100, 1, 0, 0, 0)
    return header + encode_name(name) + struct.pack(">HH", TYPES[qtype], 1)


def read_name(packet: bytes, offset: int) -> tuple[str, int]:
    """The name at `offset` (following compression pointers) and the offset after it."""
    labels: list[str] = []
    end: int | None = None
    for _ in range(128):  # bounded: a malformed packet must not loop forever
        length = packet[offset]
        if length & 0xC0 == 0xC0:
            end = end if end is not None else offset + 2
            offset = struct.unpack(">H", packet[offset : offset + 2])[0] & 0x3FFF
            continue
        if length == 0:
            return ".".join(labels), end if end is not None else offset + 1
        labels.append(packet[offset + 1 : offset + 1 + length].decode())
        offset += 1 + length
    raise ValueError("a name with too many labels or a pointer loop")


def parse(packet: bytes) -> Reply:
    _, flags, questions, count, _, _ = struct.unpack(">HHHHHH", packet[:12])
    offset = 12
    for _ in range(questions):
        offset = read_name(packet, offset)[1] + 4
    answers = []
    for _ in range(count):
        name, offset = read_name(packet, offset)
        kind, _, _, length = struct.unpack(">HHIH", packet[offset : offset + 10])
        offset += 10
        data = packet[offset : offset + length]
        value: object = data
        if kind == TYPES["A"]:
            value = socket.inet_ntoa(data)
        elif kind == TYPES["SRV"]:
            value = (*struct.unpack(">HHH", data[:6]), read_name(packet, offset + 6)[0])
        answers.append((name, NAMES.get(kind, str(kind)), value))
        offset += length
    return Reply(rcode=flags & 0xF, answers=tuple(answers))


def ask(
    server: tuple[str, int], name: str, qtype: str = "A", *, source: str = "127.0.0.1"
) -> Reply:
    """Ask `server` over UDP from the address `source` (any of 127/8 on Linux)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((source, 0))
        sock.settimeout(2.0)
        sock.sendto(query(name, qtype), server)
        return parse(sock.recv(4096))


@contextmanager
def fake_upstream(address: str, answer: str) -> Iterator[tuple[str, int]]:
    """A resolver on `address` (a free UDP port) answering every A question with `answer`;
    yields (address, port)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((address, 0))
    sock.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                packet, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            end = read_name(packet, 12)[1] + 4
            header = packet[:2] + struct.pack(">HHHHH", 0x8180, 1, 1, 0, 0)
            record = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 30, 4) + socket.inet_aton(answer)
            sock.sendto(header + packet[12:end] + record, peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()
    finally:
        stop.set()
        thread.join(5)
        sock.close()

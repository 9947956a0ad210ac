"""Move this process into a private network namespace that has nothing but loopback.

The live stacks bind many ports (443, 587, 9090, ...) on 127.0.<n>.x. In a namespace of their own,
no other program on the machine can hold those ports (a server bound to *:9090 on the host would
refuse our 127.0.41.2:9090) and none of our processes can reach any network but loopback, whatever a
rendered file names. The namespace is entered by the calling thread; threads and processes started
from it afterwards (simulators, sinks, every server) inherit it. `leave` returns to the original one.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import socket
import struct

CLONE_NEWNET = 0x40000000
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH14s", b"lo", 0, b"\0" * 14)
        flags = struct.unpack("16sH14s", fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH14s", b"lo", flags | IFF_UP, b"\0" * 14))


class PrivateNetwork:
    """`with PrivateNetwork():` or enter()/leave(); needs root (CAP_SYS_ADMIN)."""

    def __init__(self) -> None:
        self._original: int | None = None

    def enter(self) -> PrivateNetwork:
        if self._original is not None:
            return self
        self._original = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        try:
            _check(_libc.unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)")
            _loopback_up()
        except BaseException:
            os.close(self._original)
            self._original = None
            raise
        return self

    def leave(self) -> None:
        if self._original is None:
            return
        try:
            _check(_libc.setns(self._original, CLONE_NEWNET), "setns(original network namespace)")
        finally:
            os.close(self._original)
            self._original = None

    def __enter__(self) -> PrivateNetwork:
        return self.enter()

    def __exit__(self, *exc) -> None:
        self.leave()


def interfaces() -> list[str]:
    """Network interfaces this thread sees (a private namespace has only `lo`)."""
    return sorted(name for _, name in socket.if_nameindex())

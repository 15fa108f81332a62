"""Who listens on a TCP port, read from ``/proc`` (Linux) with ``lsof`` as a fallback.

Used to name the process holding the gateway port in error messages, by ``--force``
to confirm it only stops a gateway of its own profile, and by status output.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass

__all__ = ["Listener", "describe_process", "listeners_on_port"]

_LISTEN = "0A"


@dataclass(frozen=True)
class Listener:
    """A listening socket: address, port and (when visible) the owning process."""

    address: str
    port: int
    pid: int | None
    command: str | None

    def describe(self) -> str:
        """``pid 123 (python3 -m http.server)`` or the address when the owner is hidden."""
        if self.pid is None:
            return f"an unknown process on {self.address}:{self.port}"
        return f"pid {self.pid} ({self.command or '?'})"


def _hex_address(text: str, v6: bool) -> str:
    if not v6:
        raw = bytes.fromhex(text)[::-1]
        return ".".join(str(b) for b in raw)
    raw = bytes.fromhex(text)
    words = [raw[i : i + 4][::-1].hex() for i in range(0, 16, 4)]
    full = "".join(words)
    groups = [full[i : i + 4].lstrip("0") or "0" for i in range(0, 32, 4)]
    return ":".join(groups)


def _socket_inodes(port: int) -> dict[int, str]:
    inodes: dict[int, str] = {}
    for name, v6 in (("tcp", False), ("tcp6", True)):
        try:
            with open(f"/proc/net/{name}", encoding="ascii") as stream:
                next(stream, None)
                for line in stream:
                    fields = line.split()
                    if len(fields) < 10 or fields[3] != _LISTEN:
                        continue
                    address, _, hex_port = fields[1].partition(":")
                    if int(hex_port, 16) == port:
                        inodes[int(fields[9])] = _hex_address(address, v6)
        except OSError:
            continue
    return inodes


def describe_process(pid: int) -> str | None:
    """The command line of ``pid`` (shortened), or ``None`` if it cannot be read."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as stream:
            parts = stream.read().split(b"\0")
    except OSError:
        return None
    text = " ".join(p.decode("utf-8", "replace") for p in parts if p)
    return text[:120] or None


def _owners(inodes: dict[int, str]) -> dict[int, int]:
    targets = {f"socket:[{inode}]": inode for inode in inodes}
    owners: dict[int, int] = {}
    try:
        pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return owners
    for pid in pids:
        fd_dir = f"/proc/{pid}/fd"
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                link = os.readlink(f"{fd_dir}/{fd}")
            except OSError:
                continue
            inode = targets.get(link)
            if inode is not None:
                owners.setdefault(inode, pid)
        if len(owners) == len(targets):
            break
    return owners


def _lsof(port: int) -> list[Listener]:
    lsof = shutil.which("lsof")
    if lsof is None:
        return []
    try:
        result = subprocess.run(
            [lsof, "-nP", f"-iTCP:{port}", "-sTCP:LISTEN", "-Fpcn"],
            capture_output=True, text=True, timeout=5, check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return []
    found: list[Listener] = []
    pid: int | None = None
    command: str | None = None
    for line in result.stdout.splitlines():
        tag, value = line[:1], line[1:]
        if tag == "p":
            pid = int(value)
        elif tag == "c":
            command = value
        elif tag == "n":
            address = value.rsplit(":", 1)[0]
            found.append(Listener(address, port, pid, command))
    return found


def listeners_on_port(port: int) -> list[Listener]:
    """Every listening socket on ``port``, with its process where it can be seen."""
    inodes = _socket_inodes(port)
    if not inodes:
        return [] if os.path.exists("/proc/net/tcp") else _lsof(port)
    owners = _owners(inodes)
    listeners = []
    for inode, address in sorted(inodes.items()):
        pid = owners.get(inode)
        listeners.append(Listener(address, port, pid, describe_process(pid) if pid else None))
    return listeners

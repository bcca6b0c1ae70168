"""The watchdog beside every strongroom process: it ends what strongroom started when
strongroom itself is gone, even by SIGKILL.

Run as a separate interpreter (`python -I -S watchdog.py TOKEN`), standard library only.
Its stdin is a pipe whose only write end strongroom holds; each child writes its pid
(its process group) there before exec. EOF means strongroom has exited: every
registered group that still has a member carrying STRONGROOM_GUARD=TOKEN in its
environment gets SIGTERM, and SIGKILL one second later. The token check keeps a group
id reused by an unrelated process safe; the group kill reaches grandchildren that
PR_SET_PDEATHSIG (which is not inherited) cannot.
"""

from __future__ import annotations

import os
import signal
import sys
import time

ENV_NAME = "STRONGROOM_GUARD"
GRACE = 1.0


def read_groups(fd: int) -> set[int]:
    groups: set[int] = set()
    pending = b""
    while True:
        try:
            data = os.read(fd, 4096)
        except InterruptedError:
            continue
        if not data:
            return groups
        pending += data
        *lines, pending = pending.split(b"\n")
        groups.update(int(line) for line in lines if line.strip().isdigit())


def members(group: int) -> list[int]:
    found: list[int] = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 3 and fields[0] != b"Z" and int(fields[2]) == group:
            found.append(int(entry))
    return found


def carries(pid: int, marker: bytes) -> bool:
    try:
        with open(f"/proc/{pid}/environ", "rb") as handle:
            return marker in handle.read().split(b"\0")
    except OSError:
        return False


def ours(groups: set[int], token: str) -> list[int]:
    marker = f"{ENV_NAME}={token}".encode()
    return [group for group in groups
            if any(carries(pid, marker) for pid in members(group))]


def end(groups: list[int]) -> None:
    for group in groups:
        try:
            os.killpg(group, signal.SIGTERM)
        except OSError:
            pass
    deadline = time.monotonic() + GRACE
    while groups and time.monotonic() < deadline:
        time.sleep(0.05)
        groups = [group for group in groups if members(group)]
    for group in groups:
        try:
            os.killpg(group, signal.SIGKILL)
        except OSError:
            pass


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    token = sys.argv[1]
    groups = read_groups(0)
    end(ours(groups, token))


if __name__ == "__main__":
    main()

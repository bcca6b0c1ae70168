"""A private sshd on 127.0.0.1 at a free port, with its own host key and one authorized
client key, for SFTP repositories."""

from __future__ import annotations

import getpass
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from integration.conftest import require_binary
from integration.servers import free_port, listening


@dataclass(frozen=True)
class SshServer:
    port: int
    user: str
    identity: Path
    known_hosts: Path

    def repository_toml(self, name: str, path: Path, password_file: Path,
                        identity: Path | None = None, port: int | None = None) -> str:
        return f"""
[repositories.{name}]
url = "sftp://{self.user}@127.0.0.1:{port or self.port}{path}"
identity_file = "{identity or self.identity}"
known_hosts_file = "{self.known_hosts}"
password_file = "{password_file}"
"""


def keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)],
                   check=True)


@contextmanager
def private_sshd(folder: Path) -> Iterator[SshServer]:
    sshd = require_binary("sshd")
    require_binary("ssh")
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("host_key", "client_key", "stranger_key"):
        keygen(folder / name)
    (folder / "authorized_keys").write_text((folder / "client_key.pub").read_text())
    port = free_port()
    config = folder / "sshd_config"
    config.write_text(f"""\
Port {port}
ListenAddress 127.0.0.1
HostKey {folder / "host_key"}
AuthorizedKeysFile {folder / "authorized_keys"}
PidFile {folder / "sshd.pid"}
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
Subsystem sftp internal-sftp
""")
    host_key = (folder / "host_key.pub").read_text().split()
    known_hosts = folder / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{port} {host_key[0]} {host_key[1]}\n")
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation dir
    with listening([sshd, "-D", "-e", "-f", str(config)], port, folder / "sshd.log"):
        yield SshServer(port, getpass.getuser(), folder / "client_key", known_hosts)

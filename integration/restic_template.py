"""One `restic init` per test session, copied for each test's site.

`restic init` calibrates scrypt to about half a second of CPU, and every later restic run
pays it again to open the key; over the suite's thousands of restic runs that is most of its
time. The template's key is rewritten with small scrypt parameters (as restic's own tests
do), for the same password and master key, and each copy gets a config with an id of its
own: to restic it is a repository as `restic init` makes it. The tests of `init` itself
still run the real one."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.poly1305 import Poly1305

# scrypt N, r, p for the template's key: valid for restic, about a millisecond.
CHEAP_KDF = (1 << 10, 8, 1)


@dataclass(frozen=True)
class Keys:
    """restic's AES-256-CTR key and its Poly1305-AES key (K for AES-128, then R)."""

    encrypt: bytes
    mac_k: bytes
    mac_r: bytes

    @classmethod
    def derived(cls, password: bytes, salt: bytes, n: int, r: int, p: int) -> Keys:
        raw = hashlib.scrypt(password, salt=salt, n=n, r=r, p=p, maxmem=1 << 30, dklen=64)
        return cls(raw[:32], raw[32:48], raw[48:])

    def _tag(self, iv: bytes, ciphertext: bytes) -> bytes:
        aes_of_iv = Cipher(algorithms.AES(self.mac_k), modes.ECB()).encryptor().update(iv)
        return Poly1305.generate_tag(self.mac_r + aes_of_iv, ciphertext)

    def open(self, blob: bytes) -> bytes:
        iv, ciphertext, tag = blob[:16], blob[16:-16], blob[-16:]
        if self._tag(iv, ciphertext) != tag:
            raise ValueError("restic template: MAC does not match")
        return Cipher(algorithms.AES(self.encrypt), modes.CTR(iv)).decryptor().update(ciphertext)

    def seal(self, plaintext: bytes) -> bytes:
        iv = os.urandom(16)
        ciphertext = Cipher(algorithms.AES(self.encrypt), modes.CTR(iv)).encryptor().update(
            plaintext)
        return iv + ciphertext + self._tag(iv, ciphertext)


@dataclass(frozen=True)
class ResticTemplate:
    repository: Path
    master: Keys

    def copy_to(self, destination: Path) -> None:
        """A copy of the empty repository at `destination`, with a fresh repository id."""
        shutil.copytree(self.repository, destination, symlinks=True)
        config_path = destination / "config"
        config = json.loads(self.master.open(config_path.read_bytes()))
        config["id"] = os.urandom(32).hex()
        config_path.unlink()
        config_path.write_bytes(self.master.seal(json.dumps(config).encode()))
        config_path.chmod(0o400)


def make_template(folder: Path, password: str) -> ResticTemplate:
    """`restic init` (as strongroom runs it) in folder/repository, its key made cheap."""
    repository = folder / "repository"
    password_file = folder / "password"
    password_file.write_text(password + "\n")
    env = {**os.environ, "RESTIC_REPOSITORY": str(repository),
           "RESTIC_PASSWORD_FILE": str(password_file),
           "RESTIC_CACHE_DIR": str(folder / "cache")}
    subprocess.run(["restic", "init", "--repository-version", "2"], env=env,
                   capture_output=True, check=True, timeout=300)
    [key_path] = (repository / "keys").iterdir()
    key = json.loads(key_path.read_bytes())
    user = Keys.derived(password.encode(), base64.b64decode(key["salt"]),
                        key["N"], key["r"], key["p"])
    plain = json.loads(user.open(base64.b64decode(key["data"])))
    master = Keys(base64.b64decode(plain["encrypt"]), base64.b64decode(plain["mac"]["k"]),
                  base64.b64decode(plain["mac"]["r"]))
    salt = os.urandom(64)
    n, r, p = CHEAP_KDF
    cheap = Keys.derived(password.encode(), salt, n, r, p)
    sealed = cheap.seal(json.dumps(plain).encode())
    key.update(N=n, r=r, p=p, salt=base64.b64encode(salt).decode(),
               data=base64.b64encode(sealed).decode())
    text = json.dumps(key).encode()
    new_path = key_path.parent / hashlib.sha256(text).hexdigest()
    new_path.write_bytes(text)
    new_path.chmod(0o400)
    key_path.unlink()
    return ResticTemplate(repository, master)

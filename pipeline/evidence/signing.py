"""The user's Ed25519 key and the pack's signature (``manifest.sig``).

A pack whose files, manifest, SHA256SUMS and custody chain were all recomputed after an edit is
consistent with itself; only a signature made with a key the forger does not hold tells it apart.
Every user has one key, created on their first export and kept in the user's config folder
(``$CALLPROOF_CONFIG`` or platformdirs' ``user_config_dir("callproof")``) with 0600 permissions:
never in a case folder, never in a pack. The pack carries the public key only.

``manifest.sig`` signs the exact bytes of ``manifest.json``, which lists every other file's
SHA-256 and the custody chain's head, and names the signer's public key. Anyone can sign a
pack with a key of their own, so the signer is shown as a fingerprint (SHA-256 of the raw
public key) that must match the one the user sent out at export time (see ``pack_code``).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from platformdirs import user_config_dir

from pipeline.errors import ConfigError

SIGNATURE = "manifest.sig"
SIGNATURE_SCHEMA = "callproof.signature/1"
ALGORITHM = "Ed25519"
KEY_FILE = "signing_key.pem"
CONFIG_ENV = "CALLPROOF_CONFIG"


def config_dir() -> Path:
    """Where the user's key lives: ``$CALLPROOF_CONFIG`` or the platform's user config folder."""
    return Path(os.environ.get(CONFIG_ENV) or user_config_dir("callproof")).absolute()


def fingerprint(public_raw: bytes) -> str:
    """SHA-256 of the raw 32-byte public key, hex."""
    return hashlib.sha256(public_raw).hexdigest()


def spaced(fingerprint_hex: str, groups: int = 8) -> str:
    """The first ``groups`` groups of 4 hex digits, for reading aloud or comparing by eye."""
    return " ".join(fingerprint_hex[i:i + 4] for i in range(0, groups * 4, 4))


@dataclass(frozen=True)
class SigningKey:
    private: Ed25519PrivateKey
    path: Path
    created: bool  # made by this call (the first export on this machine)

    @property
    def public_raw(self) -> bytes:
        return self.private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public_raw)

    def signer(self) -> dict[str, str]:
        """The manifest's ``signer`` entry."""
        return {"algorithm": ALGORITHM, "public_key": base64.b64encode(self.public_raw).decode(),
                "fingerprint": self.fingerprint}

    def sign(self, manifest_bytes: bytes) -> bytes:
        """The text of ``manifest.sig`` for these manifest bytes."""
        document = {"schema": SIGNATURE_SCHEMA, "algorithm": ALGORITHM, "signed_file": "manifest.json",
                    "signed_sha256": hashlib.sha256(manifest_bytes).hexdigest(), **self.signer(),
                    "signature": base64.b64encode(self.private.sign(manifest_bytes)).decode()}
        return (json.dumps(document, indent=1) + "\n").encode()


def _read_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigError(f"签名密钥 {path} 无法读取（{exc}）；请从备份恢复，或把它移走后重新导出以生成新密钥 "
                          f"(cannot read the signing key)") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"签名密钥 {path} 不是 Ed25519 密钥 (not an Ed25519 key)")
    return key


def _write_new_key(path: Path) -> None:
    """Write a fresh key to ``path`` with 0600 permissions; a key another process wrote first wins."""
    pem = Ed25519PrivateKey.generate().private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                     serialization.NoEncryption())
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(partial, path)  # never replaces an existing key
    finally:
        partial.unlink(missing_ok=True)


def load_or_create_key(*, forbidden: tuple[Path, ...] = ()) -> SigningKey:
    """The user's signing key, created (0600, folder 0700) on first use.

    ``forbidden``: folders the key must not be in (the case folder, the pack's folder); a
    config folder set inside one of them is refused rather than leaking the key with the case.
    """
    directory = config_dir()
    for folder in forbidden:
        if directory.resolve().is_relative_to(Path(folder).resolve()):
            raise ConfigError(f"签名密钥的文件夹 {directory} 在案件或证据包文件夹 {folder} 之内；"
                              f"请把 {CONFIG_ENV} 设为别处 (the key folder must not be inside the case or pack folder)")
    path = directory / KEY_FILE
    created = False
    if not path.exists():
        try:
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            _write_new_key(path)
        except OSError as exc:
            raise ConfigError(f"无法在 {directory} 创建签名密钥（{exc.strerror}） (cannot create the signing key)") from exc
        created = True
    try:
        mode = path.stat().st_mode
        if stat.S_IMODE(mode) & 0o077:
            os.chmod(path, 0o600)  # someone loosened it: a private key is for its owner only
    except OSError as exc:
        raise ConfigError(f"签名密钥 {path} 无法访问（{exc.strerror}） (cannot access the signing key)") from exc
    return SigningKey(_read_key(path), path, created)


def local_fingerprint() -> str | None:
    """This machine's user key fingerprint, or None when there is none (never creates one)."""
    path = config_dir() / KEY_FILE
    if not path.is_file():
        return None
    try:
        return SigningKey(_read_key(path), path, False).fingerprint
    except ConfigError:
        return None


@dataclass
class SignatureCheck:
    fingerprint: str | None = None  # the signer's, when the signature is valid
    problems: list[str] | None = None


def _public_key(document: dict[str, Any]) -> bytes:
    raw = base64.b64decode(str(document.get("public_key", "")), validate=True)
    if len(raw) != 32:
        raise ValueError("public key is not 32 bytes")
    return raw


def check_signature(signature_text: str | None, manifest_bytes: bytes, manifest: dict[str, Any]) -> SignatureCheck:
    """Is ``manifest.sig`` a valid Ed25519 signature of these manifest bytes by the manifest's signer?"""
    if signature_text is None:
        return SignatureCheck(problems=[f"缺少签名文件 {SIGNATURE}：无法证明清单出自导出者，包内文件可能被整体重算过 "
                                        f"({SIGNATURE} missing: the pack is unsigned)"])
    try:
        document = json.loads(signature_text)
        if not isinstance(document, dict) or document.get("schema") != SIGNATURE_SCHEMA \
                or document.get("algorithm") != ALGORITHM:
            raise ValueError(f"not a {SIGNATURE_SCHEMA} {ALGORITHM} signature")
        public_raw = _public_key(document)
        signature = base64.b64decode(str(document.get("signature", "")), validate=True)
    except (ValueError, binascii.Error) as exc:
        return SignatureCheck(problems=[f"签名文件 {SIGNATURE} 无法读取 ({SIGNATURE} unreadable: {exc})"])
    problems = []
    signer = manifest.get("signer") if isinstance(manifest.get("signer"), dict) else {}
    if signer.get("public_key") != document.get("public_key"):
        problems.append(f"{SIGNATURE} 的公钥与清单中登记的签名者不同 ({SIGNATURE}: key differs from the manifest's signer)")
    try:
        Ed25519PublicKey.from_public_bytes(public_raw).verify(signature, manifest_bytes)
    except InvalidSignature:
        problems.append(f"签名无效：{SIGNATURE} 与 manifest.json 不符，清单在签名之后被改动或重算过 "
                        f"(signature does not match manifest.json: the manifest was changed after signing)")
    return SignatureCheck(None if problems else fingerprint(public_raw), problems)

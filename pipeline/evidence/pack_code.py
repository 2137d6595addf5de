"""The 存证码: a short code that pins a pack's content and signer outside the user's machine.

``<first 20 hex digits of manifest.json's SHA-256>-<first 8 hex digits of the signer's key
fingerprint>``, e.g. ``3f9a0c41d27be8a05c13-4be1f0a9``. The manifest lists every file's SHA-256
and the custody head, so its hash stands for the whole pack, zipped or unpacked; 80 bits are far
beyond what a forger can match. Sent at export time to a trusted person, a lawyer or a 存证
service, the code fixes when the pack existed and what it held: a pack rebuilt later (even one
re-signed with another key) no longer matches it. ``verify --expect`` takes the code or a full
SHA-256 (of the zip, or of manifest.json).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipeline.errors import ConfigError

MANIFEST_DIGITS = 20
KEY_DIGITS = 8
_CODE = re.compile(r"([0-9a-f]{16,64})-([0-9a-f]{8,64})")
_SHA256 = re.compile(r"[0-9a-f]{64}")


def pack_code(manifest_sha256: str, signer_fingerprint: str) -> str:
    return f"{manifest_sha256[:MANIFEST_DIGITS]}-{signer_fingerprint[:KEY_DIGITS]}"


@dataclass(frozen=True)
class Expectation:
    text: str  # as the user gave it, normalised
    manifest_prefix: str | None = None
    key_prefix: str | None = None
    sha256: str | None = None  # a full hash: of the zip or of manifest.json

    @classmethod
    def parse(cls, text: str) -> Expectation:
        value = re.sub(r"\s+", "", text).lower().removeprefix("存证码").lstrip(":：")
        if match := _CODE.fullmatch(value):
            return cls(value, manifest_prefix=match.group(1), key_prefix=match.group(2))
        if _SHA256.fullmatch(value):
            return cls(value, sha256=value)
        raise ConfigError(f"--expect 应为存证码（如 3f9a0c41d27be8a05c13-4be1f0a9）或 64 位 SHA-256，收到 {text!r} "
                          "(expected a pack code or a sha256)")

    def problems(self, manifest_sha256: str | None, signer: str | None, zip_sha256: str | None) -> list[str]:
        """One line per mismatch with the pack's hashes (``zip_sha256`` is None for a folder)."""
        if self.sha256 is not None:
            if self.sha256 in (manifest_sha256, zip_sha256):
                return []
            where = "整个 zip 和 manifest.json" if zip_sha256 else "manifest.json（核对文件夹时无法计算 zip 的哈希）"
            return [f"与预期不符：{where} 的 SHA-256 都不是 {self.sha256} "
                    f"(--expect: neither the zip's nor manifest.json's sha256 is {self.sha256})"]
        problems = []
        if not manifest_sha256 or not manifest_sha256.startswith(self.manifest_prefix or ""):
            problems.append(f"与存证码不符：清单的哈希 {(manifest_sha256 or '（无）')[:len(self.manifest_prefix or '')]} "
                            f"≠ {self.manifest_prefix}，包的内容不是发出存证码时的那一份 "
                            f"(pack code mismatch: manifest sha256 differs, the content changed)")
        if not signer or not signer.startswith(self.key_prefix or ""):
            problems.append(f"与存证码不符：签名密钥指纹 {(signer or '（无有效签名）')[:len(self.key_prefix or '')]} "
                            f"≠ {self.key_prefix}，签名者不是发出存证码的人 "
                            f"(pack code mismatch: signed by another key)")
        return problems

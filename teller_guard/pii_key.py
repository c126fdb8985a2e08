"""Which key hashes personal data, and the guard that it never changes under existing data.

By default the key is derived from the instance secret, so hashes mean nothing outside the
instance. A bank that wants head office to merge the branches' high-risk payee exports (and to
send one watchlist export to every branch) gives every branch the same key file
(`PII_KEY_FILE`): their hashes of one account number are then equal. The key must not change
once hashes are stored: every stored payee, customer and watchlist hash would stop matching,
silently. So the key's fingerprint is recorded on first use and checked before serving; on
first use it is also checked against a payee account the vault still holds in full.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

from . import pii
from .storage import sessions
from .storage import settings as settings_store

FINGERPRINT_FACT = "pii_key_id"


class PiiKeyMismatch(Exception):
    """The configured key is not the one the stored hashes were made with (message in Chinese)."""


def load(config: dict, instance_path: Path, instance_secret: str) -> bytes:
    """The key from PII_KEY_FILE (relative to the instance folder) if set, else from the
    instance secret."""
    configured = config.get("PII_KEY_FILE")
    if not configured:
        return pii.pii_key(instance_secret)
    path = Path(configured)
    if not path.is_absolute():
        path = instance_path / path
    try:
        secret = path.read_text(encoding="utf-8").strip()
    except OSError as error:
        raise OSError(f"无法读取个人信息哈希密钥文件 {path}: {error.strerror or error}") from error
    except UnicodeDecodeError as error:
        raise OSError(f"个人信息哈希密钥文件不是文本 {path}") from error
    if len(secret) < 32:
        raise OSError(f"个人信息哈希密钥文件 {path} 太短（至少 32 个字符）")
    return pii.pii_key(secret)


def fingerprint(key: bytes) -> str:
    """Names the key without revealing it: hashes from two instances are comparable only when
    their fingerprints are equal."""
    return hmac.new(key, b"teller_guard watchlist key id", hashlib.sha256).hexdigest()[:16]


def check_unchanged(db, key: bytes) -> None:
    """Record the key's fingerprint on first use; refuse a different key afterwards."""
    current = fingerprint(key)
    recorded = settings_store.instance_fact(db, FINGERPRINT_FACT)
    if recorded is None:
        # Instances from before this check recorded nothing. The vault still holds the newest
        # payee accounts in full: hashing one with the key in use now must give the hash
        # stored with it, or the key was changed at the same time as the upgrade.
        if not _hashes_match_vault(db, key):
            raise PiiKeyMismatch(
                f"个人信息哈希密钥（当前配置 key_id {current}）与已保存的收款账户哈希不一致："
                "密钥可能在升级时被更换。请恢复原密钥（PII_KEY_FILE 或实例密钥），"
                "或为新密钥使用新的实例目录。")
        settings_store.record_instance_fact(db, FINGERPRINT_FACT, current)
        return
    if recorded != current:
        raise PiiKeyMismatch(
            f"个人信息哈希密钥已更换（数据使用 key_id {recorded}，当前配置为 {current}）："
            "已保存的收款账户、客户和涉诈名单哈希将无法匹配。请恢复原密钥（PII_KEY_FILE 或实例密钥），"
            "或为新密钥使用新的实例目录。")


def _hashes_match_vault(db, key: bytes) -> bool:
    """The newest session whose payee account is still in the vault (retention empties older
    ones) was hashed with `key`; True when there is none to compare."""
    found = sessions.newest_vaulted_payee(db)
    return found is None or hmac.compare_digest(
        found["payee_hash"], pii.keyed_hash(key, found["payee_account"]))

"""Import Ray lazily and connect to the cluster `--cluster` names."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

from pipeline.errors import ConfigError

NAMESPACE = "callproof"
CONNECT_ATTEMPTS = 3  # a ray:// address whose client server fails to start this client is tried again
RETRY_SECONDS = 2.0
RAY_MISSING = "--cluster 需要可选的集群组件 Ray，请先运行 pip install -r requirements-cluster.txt (Ray is not installed)"


def import_ray() -> ModuleType:
    """The ``ray`` module, or a one-line ConfigError saying how to install it."""
    try:
        import ray
    except ImportError as exc:
        raise ConfigError(RAY_MISSING) from exc
    return ray


def require_ray() -> None:
    """Fail fast, before any file is hashed, when --cluster is used without the extra."""
    import_ray()


def _init_kwargs(address: str) -> dict[str, object]:
    common: dict[str, object] = {"namespace": NAMESPACE, "log_to_driver": False, "logging_level": logging.WARNING}
    if address == "local":
        return {**common, "include_dashboard": False}
    return {**common, "address": address}


def _transient(exc: Exception) -> bool:
    """A Ray Client server that could not start this client's own server in time (a loaded head node
    answers "Initialization failure from server"), or a connection that dropped while starting."""
    return isinstance(exc, ConnectionError | TimeoutError) or "Initialization failure" in str(exc)


def _init_with_retries(ray: ModuleType, address: str) -> None:
    for attempt in range(CONNECT_ATTEMPTS):
        try:
            ray.init(**_init_kwargs(address))
            return
        except Exception as exc:
            if attempt + 1 == CONNECT_ATTEMPTS or not address.startswith("ray://") or not _transient(exc):
                raise
            ray.shutdown()  # a half-made client connection must not count as initialised
            time.sleep(RETRY_SECONDS * (attempt + 1))


@contextmanager
def session(address: str) -> Iterator[ModuleType]:
    """Connected Ray for the length of the block. A program that already called ``ray.init``
    (a test, the benchmark, a notebook) keeps its connection; otherwise we connect and disconnect."""
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    try:
        _init_with_retries(ray, address)
    except Exception as exc:  # ConnectionError, a timeout, an unknown address: one line, not a traceback
        hint = ("；集群启用了令牌认证时，先设置 RAY_AUTH_MODE=token 和 RAY_AUTH_TOKEN（头节点 ~/.ray/auth_token 的内容）"
                if address.startswith("ray://") else "")
        raise ConfigError(f"无法连接 Ray 集群 {address}{hint} (cannot connect: {str(exc).splitlines()[0][:200]})") from exc
    try:
        yield ray
    finally:
        ray.shutdown()

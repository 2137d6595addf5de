"""Import Ray lazily and connect to the cluster `--cluster` names."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

from pipeline.errors import ConfigError

NAMESPACE = "callproof"
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


@contextmanager
def session(address: str) -> Iterator[ModuleType]:
    """Connected Ray for the length of the block. A program that already called ``ray.init``
    (a test, the benchmark, a notebook) keeps its connection; otherwise we connect and disconnect."""
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    try:
        ray.init(**_init_kwargs(address))
    except Exception as exc:  # ConnectionError, a timeout, an unknown address: one line, not a traceback
        hint = ("；集群启用了令牌认证时，先设置 RAY_AUTH_MODE=token 和 RAY_AUTH_TOKEN（头节点 ~/.ray/auth_token 的内容）"
                if address.startswith("ray://") else "")
        raise ConfigError(f"无法连接 Ray 集群 {address}{hint} (cannot connect: {str(exc).splitlines()[0][:200]})") from exc
    try:
        yield ray
    finally:
        ray.shutdown()

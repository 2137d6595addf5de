"""What `run --cluster` was asked to do (no Ray import: built while parsing the command line)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ClusterOptions:
    # "ray://HOST:PORT" (Ray Client), "HOST:PORT" (a node of the cluster), "auto" (RAY_ADDRESS or the
    # cluster this machine belongs to) or "local" (start a Ray instance on this machine)
    address: str
    shared_fs: bool = False  # every node sees the input folder at the same path: send paths, not bytes
    workers: int = 0  # model actors; 0 = as many as the cluster's CPUs allow at `threads` CPUs each
    max_attempts: int = 3  # tries per call when the actor running it is lost (node down, process killed)
    stall_seconds: float = 600.0  # give up when every actor has been lost and none came back for this long

"""Who did what on the cluster: per node and per call, for the progress line, the summary and summary.json."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from pipeline.transcript import ModelInfo


def node_label(where: dict[str, Any]) -> str:
    """A short name for a node: its address and the start of Ray's node id (hosts may share a name)."""
    return f"{where.get('ip') or where.get('host') or '?'}/{str(where.get('node_id') or '')[:6]}"


@dataclass
class NodeStats:
    calls: int = 0
    audio_seconds: float = 0.0
    worker_seconds: float = 0.0  # time the node's actors spent on calls (decode + ASR + diarization)
    running: int = 0
    lost: int = 0  # calls whose actor was lost on this node (re-queued)
    failed: int = 0  # calls that came back as an input error


@dataclass
class CallRecord:
    file: str
    node: str = ""
    actor: str = ""  # the Ray actor's name (callproof-asr-<run>-<n>)
    attempts: int = 0
    worker_seconds: float = 0.0
    round_trip_seconds: float = 0.0  # from handing the call out to its result back on the driver
    checked: str = ""  # where its SHA-256 was checked: "bytes received" / "shared file"


@dataclass
class ClusterLedger:
    address: str
    workers: int = 0
    nodes: dict[str, NodeStats] = field(default_factory=dict)
    calls: dict[str, CallRecord] = field(default_factory=dict)
    start_seconds: float = 0.0  # connecting and loading the models, before the first call
    model: ModelInfo | None = None

    def node(self, label: str) -> NodeStats:
        return self.nodes.setdefault(label, NodeStats())

    def call(self, path: Path) -> CallRecord:
        return self.calls.setdefault(str(path), CallRecord(path.name))

    def busy(self) -> int:
        return sum(s.running for s in self.nodes.values())

    def status_line(self) -> str:
        done = sum(s.calls for s in self.nodes.values())
        parts = [f"{label} 完成 {s.calls} 进行中 {s.running}" + (f" 中断 {s.lost}" if s.lost else "")
                 for label, s in sorted(self.nodes.items())]
        return f"集群 {len(self.nodes)} 个节点 {self.workers} 个工作进程，完成 {done}：" + "；".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "workers": self.workers,
            "start_seconds": round(self.start_seconds, 1),
            "nodes": [{"node": label, "calls": s.calls, "audio_minutes": round(s.audio_seconds / 60, 2),
                       "worker_seconds": round(s.worker_seconds, 1), "lost": s.lost, "failed": s.failed}
                      for label, s in sorted(self.nodes.items())],
            "calls": [{"file": c.file, "node": c.node, "attempts": c.attempts, "worker_seconds": round(c.worker_seconds, 2),
                       "round_trip_seconds": round(c.round_trip_seconds, 2), "sha256_checked_on": c.checked}
                      for c in self.calls.values()],
        }


def print_cluster_summary(console: Console, ledger: ClusterLedger) -> None:
    table = Table(title=f"集群节点分工 (cluster: {ledger.address}, {ledger.workers} 个工作进程)")
    for col in ("节点", "通话", "音频(分钟)", "转写用时(秒)", "中断重排", "失败"):
        table.add_column(col)
    for label, s in sorted(ledger.nodes.items()):
        table.add_row(label, str(s.calls), f"{s.audio_seconds / 60:.1f}", f"{s.worker_seconds:.1f}", str(s.lost), str(s.failed))
    console.print(table)
    retried = [c for c in ledger.calls.values() if c.attempts > 1]
    for c in retried:
        console.print(f"  {c.file}: 工作进程中断后重新排队，第 {c.attempts} 次在 {c.node} 完成", markup=False, highlight=False)

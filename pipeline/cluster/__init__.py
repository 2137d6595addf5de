"""`run --cluster`: transcribe a batch on a Ray cluster while the driver keeps the case.

The driver (this machine) keeps discovery, hashing and intake, the SQLite case store (the only
writer), the rules, the outputs and the custody log. Ray actors on the cluster, one loaded model
each, do what costs CPU: decode + transcription + diarization of one recording at a time.

Ray is an optional extra (requirements-cluster.txt): nothing here imports it at module level;
``pipeline.cluster.connect.import_ray`` does, only when ``--cluster`` is used.
"""

from pipeline.cluster.connect import require_ray
from pipeline.cluster.ledger import ClusterLedger, print_cluster_summary
from pipeline.cluster.options import ClusterOptions

__all__ = ["ClusterLedger", "ClusterOptions", "print_cluster_summary", "require_ray"]

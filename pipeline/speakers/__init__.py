"""Who said it: speaker turns (stereo channels or voice embeddings + clustering) and roles.

Stereo with one party per channel: ``channels_are_distinct`` -> transcribe each channel ->
``merge_channel_segments``. Mono: ``diarize`` -> ``assign_speakers``. Then ``assign_roles``.
"""

from pipeline.speakers.assign import assign_speakers
from pipeline.speakers.diarization import DiarizeOptions, Turn, diarize, parse_num_speakers, speech_regions
from pipeline.speakers.roles import (
    ROLE_LABELS_ZH,
    apply_roles,
    assign_roles,
    role_evidence,
    role_label,
)
from pipeline.speakers.stereo import (
    channel_turns,
    channels_are_distinct,
    merge_channel_segments,
    recording_turns,
)

__all__ = [
    "ROLE_LABELS_ZH",
    "DiarizeOptions",
    "Turn",
    "apply_roles",
    "assign_roles",
    "assign_speakers",
    "channel_turns",
    "channels_are_distinct",
    "diarize",
    "merge_channel_segments",
    "parse_num_speakers",
    "recording_turns",
    "role_evidence",
    "role_label",
    "speech_regions",
]

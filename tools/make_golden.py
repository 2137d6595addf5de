"""Write the golden transcripts tests/test_reproducible.py compares against.

    python tools/make_golden.py

Run it only when a change is MEANT to change transcripts (new model, new decode default), and say
so in the commit: on any other change, a different transcript is a reproducibility bug.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pipeline  # noqa: E402, F401, I001  (pins the CPU code paths first)
from pipeline.asr.factory import load_engine  # noqa: E402
from pipeline.audio import sha256_file  # noqa: E402
from pipeline.determinism import reuse_key  # noqa: E402
from pipeline.reproduce import content_digest, transcript_content  # noqa: E402
from pipeline.transcribe import TranscribeConfig, transcribe_file  # noqa: E402

CALLS_DEV = ROOT.parent / "shared" / "data" / "calls_dev"
GOLDEN_DIR = ROOT / "tests" / "data" / "golden"
GOLDEN_FILES = ("call2_tel8k.wav", "call1_tel_stereo.wav")


def main() -> None:
    engine = load_engine()
    GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
    for name in GOLDEN_FILES:
        transcript = transcribe_file(CALLS_DEV / name, engine, TranscribeConfig())
        golden = {
            "source": name,
            "sha256": sha256_file(CALLS_DEV / name),
            "model_sha256": transcript.model.sha256,
            "compute": reuse_key(transcript.options["compute"]),
            "digest": content_digest(transcript),
            "segments": transcript_content(transcript),
        }
        out = GOLDEN_DIR / (Path(name).stem + ".json")
        out.write_text(json.dumps(golden, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        print(f"{out.relative_to(ROOT)}: {len(golden['segments'])} segments, {golden['digest'][:16]}")


if __name__ == "__main__":
    main()

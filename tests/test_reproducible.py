"""The same recording gives the same transcript: on any x86-64-v3 machine, any thread count, any history.

The golden files were written by ``tools/make_golden.py``; a failure here on an unchanged model and
unchanged decode defaults means a transcript that depends on the machine: a bug, not a new baseline.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.asr.factory import compute_fingerprint, load_engine
from pipeline.audio import sha256_file
from pipeline.batch import RunSettings, options_hash
from pipeline.determinism import PINNED_ENV, reuse_key, unpinned_environ
from pipeline.reproduce import content_digest, diff_transcripts, transcript_content
from pipeline.transcribe import TranscribeConfig, transcribe_file, with_options
from pipeline.transcript import Transcript

ROOT = Path(__file__).resolve().parent.parent
CALLS_DEV = ROOT.parent / "shared" / "data" / "calls_dev"
SPEECH = ROOT.parent / "shared" / "data" / "speech_zh"
GOLDEN = ROOT / "tests" / "data" / "golden"


@pytest.fixture(scope="module")
def engine():
    return load_engine(threads=2)


@pytest.mark.parametrize("name", ["call2_tel8k.wav", "call1_tel_stereo.wav"])
def test_transcript_matches_the_committed_golden_text_and_word_times(engine, name: str) -> None:
    golden = json.loads((GOLDEN / (Path(name).stem + ".json")).read_text(encoding="utf-8"))
    assert sha256_file(CALLS_DEV / name) == golden["sha256"], "the shared sample itself changed"
    transcript = transcribe_file(CALLS_DEV / name, engine, TranscribeConfig())
    assert transcript.model.sha256 == golden["model_sha256"]
    assert reuse_key(transcript.options["compute"]) == golden["compute"], transcript.options["compute"]
    actual = transcript_content(transcript)
    differing = [(i, exp, act) for i, (exp, act) in enumerate(zip(golden["segments"], actual, strict=False)) if exp != act]
    assert len(actual) == len(golden["segments"]) and not differing, differing[:2]
    assert content_digest(transcript) == golden["digest"]


def test_the_compute_path_is_pinned_and_recorded(engine) -> None:
    for key, value in PINNED_ENV.items():
        assert os.environ.get(key) == value, key
    record = engine.compute
    assert record["reproducible"] is True, record
    assert (record["gemm"], record["isa"], record["blas_core"], record["seed"]) == ("dnnl", "AVX2", "Haswell", 0)
    assert record["threads"] == 2


def test_one_thread_gives_the_golden_transcript_too() -> None:
    # the golden test decodes with two threads; `run` gives each worker cores // workers threads
    transcript = transcribe_file(CALLS_DEV / "call2_tel8k.wav", load_engine(threads=1), TranscribeConfig())
    golden = json.loads((GOLDEN / "call2_tel8k.json").read_text(encoding="utf-8"))
    assert content_digest(transcript) == golden["digest"]


def test_sampled_fallback_does_not_depend_on_what_was_decoded_before(engine) -> None:
    # Temperature 1.0 from the first window forces the random sampling Whisper falls back to.
    sampling = with_options(TranscribeConfig(), temperatures=(1.0,))
    path = SPEECH / "masr_test.wav"
    first = transcribe_file(path, engine, sampling)
    transcribe_file(SPEECH / "funasr_asr_example_zh.wav", engine, sampling)  # more draws in between
    again = transcribe_file(path, engine, sampling)
    assert diff_transcripts(first, again) == []
    fresh = transcribe_file(path, load_engine(threads=1), sampling)
    assert diff_transcripts(first, fresh) == []


def test_a_user_environment_asking_for_other_kernels_is_overridden(tmp_path: Path) -> None:
    # What an Intel CPU or a tuned machine would select on its own: MKL, AVX-512, SkylakeX kernels.
    env = {**unpinned_environ(), "CT2_USE_MKL": "1", "CT2_FORCE_CPU_ISA": "AVX512", "ONEDNN_MAX_CPU_ISA": "ALL",
           "OPENBLAS_CORETYPE": "SkylakeX", "OPENBLAS_NUM_THREADS": "8", "NPY_DISABLE_CPU_FEATURES": ""}
    script = (
        "import json, sys; import pipeline; from pathlib import Path;"
        "from pipeline.asr.factory import load_engine; from pipeline.transcribe import transcribe_file;"
        "from pipeline.reproduce import content_digest;"
        "t = transcribe_file(Path(sys.argv[1]), load_engine(threads=1));"
        "print(json.dumps({'digest': content_digest(t), 'compute': t.options['compute']}))"
    )
    out = subprocess.run([sys.executable, "-c", script, str(CALLS_DEV / "call2_tel8k.wav")], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=600, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    golden = json.loads((GOLDEN / "call2_tel8k.json").read_text(encoding="utf-8"))
    assert result["digest"] == golden["digest"]
    assert result["compute"]["reproducible"] is True


def test_native_cpu_opt_out_is_recorded_as_not_reproducible(tmp_path: Path) -> None:
    env = {**unpinned_environ(), "CALLPROOF_NATIVE_CPU": "1"}
    script = ("import json; import pipeline; from pipeline.determinism import compute_record;"
              "print(json.dumps(compute_record()))")
    out = subprocess.run([sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True,
                         timeout=120, check=True)
    record = json.loads(out.stdout)
    assert record["reproducible"] is False and record["gemm"] == "native" and record["cpu"]


def test_a_stored_transcript_is_reused_only_on_the_same_compute_path() -> None:
    config, settings = TranscribeConfig(), RunSettings()
    same = compute_fingerprint("faster-whisper", device="cpu")
    native = {**same, "reproducible": False, "gemm": "native", "isa": "native", "cpu": "Some CPU"}
    assert options_hash("m", config, settings, same) == options_hash("m", config, settings, dict(same))
    assert options_hash("m", config, settings, same) != options_hash("m", config, settings, native)


def test_diff_names_the_differing_segment() -> None:
    golden = json.loads((GOLDEN / "call2_tel8k.json").read_text(encoding="utf-8"))
    seg = golden["segments"][0]
    base = {"schema": "callproof.transcript/1", "source": {"path": "x", "sha256": "0", "size": 1, "duration": 1.0, "channels": 1, "sample_rate": 8000,
                       "codec": "pcm", "container": "wav"},
            "model": {"name": "m", "sha256": "0", "engine": "faster-whisper"}}

    def make(text: str) -> Transcript:
        words = [{"text": w[0], "start": w[1], "end": w[2], "probability": 1.0, "offset": i}
                 for i, w in enumerate(seg["words"])]
        return Transcript.from_dict({**base, "segments": [{"index": 0, "start": seg["start"], "end": seg["end"],
                                                          "text": text, "raw_text": text, "words": words}]})

    diffs = diff_transcripts(make(seg["text"]), make(seg["text"].replace("王方", "王芳")))
    assert len(diffs) == 1 and "第 1 段文字不同" in diffs[0].describe() and "王芳" in diffs[0].describe()

"""Worker processes end with the process that started them, however it ends (even SIGKILL).

A transcription worker holds a model (about 0.5 GB) and does nothing useful without its parent,
which alone writes the case. Two guards: on Linux the kernel sends the worker SIGKILL when the
parent dies (``prctl(PR_SET_PDEATHSIG)``); everywhere, a watcher thread checks once a second that
the parent is still the same process and exits at once when it is not (re-parented to init).
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1
WATCH_SECONDS = 1.0


def _kernel_guard() -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):
        pass  # the watcher below still ends the worker


def _watch(parent_pid: int) -> None:
    while True:
        if os.getppid() != parent_pid:
            os._exit(1)
        time.sleep(WATCH_SECONDS)


def worker_context() -> multiprocessing.context.SpawnContext:
    """How worker processes start: a fresh interpreter (spawn), never a fork of this process.

    By the time a worker starts, this process may run threads of native libraries (CTranslate2's and
    libgomp's pools, the sentence encoder's, a model replica loaded on a thread of its own); a forked
    child inherits their locks in whatever state they were, and hung or aborted loading its model (ad
    hoc: 3 of 10 forks after a replica had been loaded on a short-lived thread). A spawned worker has
    none of that state; it costs the interpreter's start and the imports (about a second) before the
    model loads. The worker's parent is still this process, so ``die_with_parent`` holds.
    """
    return multiprocessing.get_context("spawn")


def die_with_parent(parent_pid: int) -> None:
    """Call first thing in a worker process: it ends when ``parent_pid`` (its parent) is gone."""
    _kernel_guard()
    if os.getppid() != parent_pid:  # the parent died before the guard was set
        os._exit(1)
    threading.Thread(target=_watch, args=(parent_pid,), name="callproof-parent-watch", daemon=True).start()

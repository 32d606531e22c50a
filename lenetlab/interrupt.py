"""Ctrl-C and SIGTERM are a state, not a crash: the run records ``interrupted``, a sweep stops, exit status 130.

During ``fit`` and ``test`` Lightning catches the interruption itself (``trainer.interrupted``), calls
the callbacks' ``on_exception`` and ends with ``SystemExit``; ``lenetlab.train`` turns that back into
KeyboardInterrupt, records the run and exits with 130.
"""

from __future__ import annotations

import signal
import threading

EXIT_INTERRUPTED = 130  # 128 + SIGINT: what a shell reports for a program stopped by Ctrl-C


def sigterm_as_interrupt() -> None:
    """Let SIGTERM stop this process as Ctrl-C does, unless something else (a cluster launcher) handles it."""
    main_thread = threading.current_thread() is threading.main_thread()
    if main_thread and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, signal.default_int_handler)


def interrupted_reason(last_epoch: int | None) -> str:
    """The ``reason`` of an interrupted run: how far it got and how to continue it."""
    where = f"after epoch {last_epoch}" if last_epoch is not None else "before its first checkpoint"
    return f"interrupted {where} (Ctrl-C or SIGTERM): run the same command with resume=true to continue"

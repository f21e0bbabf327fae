"""Quiet TensorFlow start-up for every emozoo command.

TensorFlow 2.21 prints C++ log lines before ``absl::InitializeLog`` (oneDNN notice, "Could not find
cuda drivers", CPU instruction notice) that no environment variable silences, and on a machine
without a GPU a ``failed call to cuInit`` error when devices are first listed. :func:`install`
(run by ``import emozoo``) sets ``TF_CPP_MIN_LOG_LEVEL=2`` (unless the user set it) and wraps the
first ``import tensorflow`` so that file descriptor 2 goes to a temporary file while TensorFlow
loads and lists its physical devices; afterwards every captured line that is not one of those
known start-up notices is written back to stderr, so real errors stay visible. absl's Python
logger is set to errors only. ``EMOZOO_TF_VERBOSE=1`` turns all of this off.
"""
from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import re
import sys
import tempfile

NOISE = re.compile(r"(All log messages before absl::InitializeLog|port\.cc:\d+\] oneDNN custom operations"
                   r"|cudart_stub\.cc|Could not find cuda drivers|cpu_feature_guard\.cc|To enable the following "
                   r"instructions|rebuild TensorFlow with the appropriate compiler flags|cuda_platform\.cc:\d+\] "
                   r"failed call to cuInit|cuda_executor\.cc|Unable to register cu(DNN|FFT|BLAS) factory"
                   r"|computation_placer\.cc|This TensorFlow binary is optimized)")


class _QuietTF(importlib.abc.MetaPathFinder):
    def __init__(self):
        self.busy = False

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow" or self.busy:
            return None
        self.busy = True
        try:
            spec = importlib.machinery.PathFinder.find_spec(name, path)
        finally:
            self.busy = False
        if spec is None or spec.loader is None:
            return spec
        real_exec = spec.loader.exec_module

        def exec_module(module):
            sys.meta_path[:] = [f for f in sys.meta_path if f is not self]
            with _captured_fd2():
                real_exec(module)
                try:
                    module.config.list_physical_devices()   # the cuInit attempt happens here, quietly
                except Exception:  # noqa: BLE001 - devices are listed again, loudly, on first use
                    pass
            try:
                from absl import logging as absl_logging
                absl_logging.set_verbosity(absl_logging.ERROR)
            except ImportError:
                pass

        spec.loader.exec_module = exec_module
        return spec


class _captured_fd2:
    def __enter__(self):
        sys.stderr.flush()
        self.tmp = tempfile.TemporaryFile(mode="w+b")
        self.saved = os.dup(2)
        os.dup2(self.tmp.fileno(), 2)

    def __exit__(self, *exc):
        sys.stderr.flush()
        os.dup2(self.saved, 2)
        os.close(self.saved)
        self.tmp.seek(0)
        kept = [ln for ln in self.tmp.read().decode("utf-8", "replace").splitlines(True)
                if ln.strip() and not NOISE.search(ln)]
        self.tmp.close()
        if kept:
            sys.stderr.write("".join(kept))
        return False


def install() -> None:
    if os.environ.get("EMOZOO_TF_VERBOSE") == "1":
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" in sys.modules or any(isinstance(f, _QuietTF) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _QuietTF())

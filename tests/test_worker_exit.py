"""Leaving the program while the engine thread still works must not abort the process."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = f"""
import os, sys, time
os.environ["QT_QPA_PLATFORM"] = "offscreen"
sys.path.insert(0, {str(ROOT)!r})
from PySide6.QtWidgets import QApplication
app = QApplication([])
from app.engine.worker import EngineWorker

def slow_load(model, device):
    time.sleep(1.5)
    raise RuntimeError("still loading")

worker = EngineWorker(runner_factory=slow_load)
worker.start()
time.sleep(0.2)
print("leaving")
"""


def test_exit_with_the_engine_thread_busy_is_clean():
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          timeout=60)
    assert "leaving" in proc.stdout
    assert proc.returncode == 0, proc.stderr[-500:]
    assert "Destroyed while thread" not in proc.stderr

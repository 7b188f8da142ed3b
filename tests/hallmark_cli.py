"""Running the real ``hallmark`` console script in a subprocess (a plain module tests import)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HALLMARK = str(Path(sys.executable).with_name("hallmark"))
REPO = Path(__file__).resolve().parents[1]


class HallmarkRunner:
    """Runs ``hallmark ARGS...`` with its own data directory and the shared model cache."""

    def __init__(self, home: Path, model_cache: Path) -> None:
        self.home = home
        self.env = {**os.environ, "HALLMARK_HOME": str(home), "HALLMARK_MODEL_CACHE": str(model_cache)}

    def __call__(
        self, *args: str, cwd: Path | None = None, timeout: float = 240
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [HALLMARK, *args], cwd=cwd or REPO, env=self.env, capture_output=True, text=True, timeout=timeout
        )

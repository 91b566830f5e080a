"""An on-disk result cache for sweeps: one JSON file per finished point, written atomically."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

__all__ = ["ResultCache", "point_key"]


def point_key(fn_key: str, point: dict) -> str:
    blob = json.dumps({"fn": fn_key, "point": point}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


class ResultCache:
    """``get(key)``/``put(key, record)`` over a folder; a killed sweep loses no finished point."""

    def __init__(self, folder):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def get(self, key: str):
        p = self._path(key)
        if not p.is_file():
            return None
        try:
            return json.loads(p.read_text())
        except (OSError, json.JSONDecodeError):
            return None  # a torn file from a crash is recomputed

    def put(self, key: str, record: dict) -> None:
        p = self._path(key)
        tmp = p.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(record, default=str))
        os.replace(tmp, p)

    def __len__(self) -> int:
        return sum(1 for _ in self.folder.glob("*.json"))

"""An on-disk result cache for sweeps: one JSON file per finished point, written atomically.

Each file is an envelope ``{"format", "key", "sha256", "record"}``: the point's key and a hash
of the record's canonical JSON. ``get`` returns a record only if the file parses, is an
envelope of this format, names the key it is stored under and its hash matches; anything else
(a changed digit, two swapped files, a foreign or torn file) is reported in ``rejected`` (and
on stderr by ``sweep``) and the point is recomputed — the cache can be wrong only by missing.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from ..errors import ConfigError

__all__ = ["ResultCache", "point_key", "FORMAT"]

FORMAT = "step-lab-cache/2"


def point_key(fn_key: str, point: dict) -> str:
    blob = json.dumps({"fn": fn_key, "point": point}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def _canonical(record) -> str:
    return json.dumps(record, sort_keys=True, default=str)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class ResultCache:
    """``get(key)``/``put(key, record)`` over a folder; a killed sweep loses no finished point.

    ``rejected`` lists ``(file name, reason)`` for every record ``get`` refused.
    """

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        if self.folder.exists() and not self.folder.is_dir():
            raise ConfigError(f"cache {str(folder)!r} is a file (expected a folder for the "
                              "result cache)")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise ConfigError(f"cache {str(folder)!r} lies under a regular file (expected a "
                              "folder path)") from None
        except PermissionError:
            raise ConfigError(f"cache {str(folder)!r} cannot be created (no write permission)") \
                from None
        self.rejected: list[tuple[str, str]] = []

    def _path(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def get(self, key: str) -> Any:
        """The record stored under ``key``, or None (absent, or rejected: see ``rejected``)."""
        p = self._path(key)
        if not p.is_file():
            return None
        try:
            envelope = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
            return self._reject(p, f"unreadable ({type(e).__name__})")
        reason = _problem(envelope, key)
        if reason:
            return self._reject(p, reason)
        return envelope["record"]

    def _reject(self, path: Path, reason: str) -> None:
        self.rejected.append((path.name, reason))
        return None

    def put(self, key: str, record: dict) -> None:
        """Write atomically: a temporary file in the folder, flushed, then renamed."""
        body = _canonical(record)
        envelope = {"format": FORMAT, "key": key, "sha256": _digest(body),
                    "record": json.loads(body)}
        fd, tmp = tempfile.mkstemp(prefix=f".{key}.", suffix=".tmp", dir=self.folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(json.dumps(envelope))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self._path(key))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def __len__(self) -> int:
        return sum(1 for _ in self.folder.glob("*.json"))


def _problem(envelope, key: str) -> str:
    """Why ``envelope`` is not a trustworthy record for ``key`` ('' if it is)."""
    if not isinstance(envelope, dict) or envelope.get("format") != FORMAT:
        return f"not a {FORMAT} record"
    if envelope.get("key") != key:
        return f"holds the record of key {str(envelope.get('key'))[:24]!r} (swapped or copied)"
    record = envelope.get("record")
    if not isinstance(record, dict):
        return "record is not an object"
    if _digest(_canonical(record)) != envelope.get("sha256"):
        return "content hash mismatch (the record was modified)"
    return ""

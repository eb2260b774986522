"""The pictures the app serves: written once as PNG files named by their bytes, pruned after an hour."""
from __future__ import annotations

import functools
import hashlib
import io
import itertools
import os
import tempfile
import time
from pathlib import Path

from PIL import Image

@functools.lru_cache(maxsize=1)
def picture_dir() -> Path:
    """Where this process writes the pictures it serves (Gradio copies each into its own cache)."""
    return Path(tempfile.mkdtemp(prefix="genzoo-pictures-"))


def picture_file(img: Image.Image) -> str:
    """A PNG of ``img``, named by its bytes and written atomically (under a temporary name, then renamed).

    Returning files, not PIL images, is what keeps a picture two visitors get at once whole: Gradio 6 re-encodes a
    returned PIL image into its cache by rewriting the file in place on every return, so one visitor's rewrite can
    cut short the other's download (seen in the soak test); a returned file goes through Gradio's
    ``save_file_to_cache``, which copies it once and renames the copy into place."""
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    data = buf.getvalue()
    target = picture_dir() / f"{hashlib.sha1(data).hexdigest()}.png"
    if next(_writes) % PRUNE_EVERY == 0:
        prune_pictures()
    try:
        os.utime(target)                # already written: keep it from being pruned
    except FileNotFoundError:
        fd, staging = tempfile.mkstemp(dir=target.parent, prefix=".picture-")
        with os.fdopen(fd, "wb") as f:
            os.fchmod(fd, 0o644)        # as readable as a file Gradio writes itself (its copy keeps these bits)
            f.write(data)
        os.replace(staging, target)
    return str(target)


PRUNE_EVERY, KEEP_SECONDS = 500, 3600
_writes = itertools.count(1)


def prune_pictures(older_than_s: float = KEEP_SECONDS) -> None:
    """Delete the pictures written more than ``older_than_s`` ago (Gradio keeps its own copies for an hour too)."""
    cutoff = time.time() - older_than_s
    for path in picture_dir().glob("*.png"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
        except FileNotFoundError:
            pass


def as_files(value):
    """``value`` with every PIL image inside it (alone, in a tuple or in a list) replaced by its file."""
    if isinstance(value, Image.Image):
        return picture_file(value)
    if isinstance(value, tuple):
        return tuple(as_files(v) for v in value)
    if isinstance(value, list):
        return [as_files(v) for v in value]
    return value

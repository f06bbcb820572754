"""Hand case files to the browser without exposing the case folders.

Why: Gradio serves any file under `allowed_paths` to whoever asks for its
path. Case folders hold reports of every user, so the share folder is *not*
an allowed path. Instead each file the page shows (figures, downloads) is
hard-linked into Gradio's own upload folder under a name derived from a
per-process secret, the file's path, size and modification time: a link
cannot be guessed from a case id, a re-rendered report (sign-off) gets a new
link, and Gradio's hourly cache cleaning removes old links (they are made
again on demand).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import shutil
from pathlib import Path

_SECRET = secrets.token_bytes(32)


def upload_root() -> Path:
    from gradio.utils import get_upload_folder

    return Path(get_upload_folder())


def safe_name(text: str, limit: int = 80) -> str:
    """A file-name-safe form of `text` (case ids go into download names)."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._-")
    return cleaned[:limit] or "case"


def served(path: str | Path, name: str | None = None) -> str | None:
    """A path Gradio may serve for `path` (under `name` when given: the
    browser saves a download under this name), or None when the file is gone."""
    p = Path(path)
    try:
        st = p.stat()
    except OSError:
        return None
    key = hmac.new(_SECRET, f"{p.resolve()}\0{st.st_size}\0{st.st_mtime_ns}".encode(), hashlib.sha256).hexdigest()[:40]
    shown = safe_name(name, 160) if name else p.name
    dest = upload_root() / "served" / key / shown
    if not dest.exists():
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{shown}.{secrets.token_hex(4)}")
        try:
            os.link(p, tmp)
        except OSError:
            shutil.copy2(p, tmp)
        os.replace(tmp, dest)
    return str(dest)


def served_messages(messages: list[dict]) -> list[dict]:
    """Chat messages with every file path replaced by its served link;
    items whose file is gone are dropped."""
    out = []
    for m in messages:
        content = m.get("content")
        if isinstance(content, dict) and "path" in content:
            link = served(content["path"])
            if link is None:
                continue
            out.append({**m, "content": {**content, "path": link}})
        elif isinstance(content, list):
            items = []
            for item in content:
                if isinstance(item, dict) and "path" in item:
                    link = served(item["path"])
                    if link is not None:
                        items.append({**item, "path": link})
                else:
                    items.append(item)
            if items:
                out.append({**m, "content": items})
        else:
            out.append(m)
    return out

"""The quiz's answers kept in a Hub dataset on a Space (``$GENZOO_QUIZ_REPO``), where the machine's own disk does not
outlive a restart: restored at start, before anything is pushed, then pushed every few minutes."""
from __future__ import annotations

import logging
import tempfile
import threading
from pathlib import Path
from typing import Optional

from .answers import AnswerStore

log = logging.getLogger(__name__)


class HubSync:
    """The answer file kept in a Hub dataset (``$GENZOO_QUIZ_REPO``): ``start`` first restores the answers saved there
    (merged into this machine's file, none twice), and only then pushes a copy every few minutes, so a restarted
    Space never overwrites what it had. Without a token, or when the saved copy cannot be read, nothing is ever
    pushed: the answers stay on this machine and ``words`` says so."""

    FILE = "quiz.sqlite3"

    def __init__(self, store: AnswerStore, repo_id: str, token: Optional[str] = None, api=None,
                 every_minutes: float = 5):
        self.store, self.repo_id, self.every_s = store, repo_id, every_minutes * 60
        self.api, self.token = api, token
        self.pushing, self.pushed_count = False, -1
        self.words = f"Answers are kept on this machine only: the Hub dataset `{repo_id}` is not reachable."
        self._stop = threading.Event()

    def start(self) -> "HubSync":
        from huggingface_hub import HfApi, get_token

        self.token = self.token or get_token()
        if not self.token:
            self.words = (f"Answers are kept on this machine only: `GENZOO_QUIZ_REPO` names `{self.repo_id}`, but "
                          "no Hugging Face token (`HF_TOKEN`) was given to copy them there.")
            log.warning(self.words)
            return self
        self.api = self.api or HfApi(token=self.token)
        try:
            restored = self.restore()
        except Exception as exc:              # noqa: BLE001 - never push over a copy that could not be read
            self.words += f" ({type(exc).__name__}: {exc})"
            log.warning(self.words)
            return self
        self.pushing = True
        self.words = (f"Answers are kept in the Hub dataset `{self.repo_id}` (a copy is pushed every few minutes; "
                      f"{restored} earlier answers were restored at start).")
        threading.Thread(target=self._loop, name="genzoo-quiz-sync", daemon=True).start()
        return self

    def restore(self) -> int:
        """Merge the Hub's copy into this machine's file; the number of answers it held (0 when there is none)."""
        from huggingface_hub.errors import EntryNotFoundError, RepositoryNotFoundError

        try:
            path = self.api.hf_hub_download(self.repo_id, self.FILE, repo_type="dataset")
        except (EntryNotFoundError, RepositoryNotFoundError):
            self.api.create_repo(self.repo_id, repo_type="dataset", private=True, exist_ok=True)
            return 0
        with self.store.connect() as con:
            con.execute("ATTACH DATABASE ? AS saved", (str(path),))
            try:
                version = con.execute("PRAGMA saved.user_version").fetchone()[0]
                channel = "channel" if version >= 2 else "'page'"
                con.execute("BEGIN IMMEDIATE")
                con.execute(f"INSERT OR IGNORE INTO served SELECT token, browser, dataset, source, picture, "
                            f"served_at, {channel} FROM saved.served")
                con.execute(f"INSERT OR IGNORE INTO answers SELECT token, browser, dataset, source, picture, answer, "
                            f"correct, answered_at, {channel} FROM saved.answers")
                con.execute("COMMIT")
                return con.execute("SELECT COUNT(*) FROM saved.answers").fetchone()[0]
            finally:
                con.execute("DETACH DATABASE saved")

    def push(self) -> bool:
        """Upload a consistent copy of the file, when it holds answers not pushed yet; whether it uploaded."""
        if not self.pushing:
            return False
        count = self.store.count()
        if count == self.pushed_count:
            return False
        with tempfile.TemporaryDirectory() as tmp:
            copy = self.store.snapshot(Path(tmp) / self.FILE)
            self.api.upload_file(path_or_fileobj=str(copy), path_in_repo=self.FILE, repo_id=self.repo_id,
                                 repo_type="dataset", commit_message=f"quiz answers: {count}")
        self.pushed_count = count
        return True

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.push()
            except Exception as exc:          # noqa: BLE001 - the next round tries again
                log.warning("could not push the quiz answers to %s: %s", self.repo_id, exc)

    def stop(self) -> None:
        self._stop.set()

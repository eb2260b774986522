"""The quiz keeps every answer on a Space: a program's answers are judged but never counted as people's, an old
answer file gains channels, and the Hub copy is restored before anything is pushed, so a restart loses nothing."""
import shutil
import sqlite3
from pathlib import Path

import pytest

from genzoo.answers import API, PAGE, REAL, AnswerStore
from genzoo.quiz_sync import HubSync


def answer(store: AnswerStore, token: str, browser: str = "browser-a", source: str = "gan", picture: int = 0,
           channel: str = PAGE, said: str = "real") -> None:
    store.serve(token, browser, "mnist", source, picture, channel)
    store.record(token, browser, said)


def test_only_answers_from_the_page_make_the_human_score(tmp_path):
    store = AnswerStore(tmp_path / "q.sqlite3")
    answer(store, "t1", picture=1)                         # a person, fooled
    answer(store, "t2", picture=2, channel=API)            # a program: judged, kept, not counted
    answer(store, "t3", picture=3, channel=API)
    assert store.count() == 3
    (gan,) = store.scores("mnist")
    assert gan.source == "gan" and gan.rate.n == 1 and gan.rate.value == 1.0
    with pytest.raises(ValueError, match="channel"):
        store.serve("t4", "browser-a", "mnist", REAL, 4, "bot")


def test_an_answer_file_from_before_channels_keeps_its_answers_as_peoples(tmp_path):
    path = tmp_path / "old.sqlite3"
    con = sqlite3.connect(path)
    con.executescript("""
        CREATE TABLE served (token TEXT PRIMARY KEY, browser TEXT NOT NULL, dataset TEXT NOT NULL,
                             source TEXT NOT NULL, picture INTEGER NOT NULL, served_at REAL NOT NULL);
        CREATE TABLE answers (token TEXT PRIMARY KEY REFERENCES served (token), browser TEXT NOT NULL,
                              dataset TEXT NOT NULL, source TEXT NOT NULL, picture INTEGER NOT NULL,
                              answer TEXT NOT NULL, correct INTEGER NOT NULL, answered_at REAL NOT NULL,
                              UNIQUE (browser, dataset, source, picture));""")     # schema version 1
    con.execute("INSERT INTO served VALUES ('t', 'browser-a', 'mnist', 'real', 1, 0)")
    con.execute("INSERT INTO answers VALUES ('t', 'browser-a', 'mnist', 'real', 1, 'generated', 0, 0)")
    con.execute("PRAGMA user_version=1")
    con.commit()
    con.close()
    store = AnswerStore(path)
    (real,) = store.scores("mnist")
    assert real.rate.n == 1 and real.rate.value == 1.0          # a false alarm, counted as a person's
    answer(store, "t2", channel=API)
    assert store.count() == 2 and store.scores("mnist")[0].rate.n == 1


class FolderHub:
    """A Hub dataset as ``HubSync`` uses it, kept in a folder: download, upload, create."""

    def __init__(self, folder: Path, fail_download: bool = False):
        self.folder, self.fail_download, self.uploads = folder, fail_download, 0
        folder.mkdir(parents=True, exist_ok=True)

    def hf_hub_download(self, repo_id, filename, repo_type=None):
        from huggingface_hub.errors import EntryNotFoundError

        if self.fail_download:
            raise ConnectionError("the Hub cannot be reached")
        if not (self.folder / filename).exists():
            raise EntryNotFoundError(f"{filename} not in {repo_id}")
        out = self.folder.parent / f"download-{self.uploads}.sqlite3"     # the Hub's cache: a copy
        shutil.copyfile(self.folder / filename, out)
        return str(out)

    def upload_file(self, path_or_fileobj, path_in_repo, repo_id, repo_type, commit_message):
        shutil.copyfile(path_or_fileobj, self.folder / path_in_repo)
        self.uploads += 1

    def create_repo(self, repo_id, repo_type=None, private=None, exist_ok=False):
        pass


def pushed(hub: FolderHub) -> int:
    con = sqlite3.connect(hub.folder / HubSync.FILE)
    try:
        return con.execute("SELECT COUNT(*) FROM answers").fetchone()[0]
    finally:
        con.close()


def test_answer_push_restart_answer_again_and_the_hub_holds_every_answer(tmp_path):
    hub = FolderHub(tmp_path / "hub")
    first = AnswerStore(tmp_path / "machine-1" / "q.sqlite3")
    sync = HubSync(first, "me/quiz", token="hf_test", api=hub).start()
    assert sync.pushing and "0 earlier answers were restored" in sync.words
    answer(first, "t1", picture=1)
    answer(first, "t2", picture=2)
    assert sync.push() and pushed(hub) == 2
    assert not sync.push()                                  # nothing new: nothing uploaded
    sync.stop()
    # the Space restarts on a fresh disk
    second = AnswerStore(tmp_path / "machine-2" / "q.sqlite3")
    sync = HubSync(second, "me/quiz", token="hf_test", api=hub).start()
    assert "2 earlier answers were restored" in sync.words and second.count() == 2
    answer(second, "t3", picture=3)
    assert sync.push() and pushed(hub) == 3
    # restoring twice adds nothing twice
    assert sync.restore() == 3 and second.count() == 3
    sync.stop()


def test_without_a_token_the_answers_stay_here_and_the_page_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr("huggingface_hub.get_token", lambda: None)
    sync = HubSync(AnswerStore(tmp_path / "q.sqlite3"), "me/quiz").start()
    assert not sync.pushing and not sync.push()
    assert "kept on this machine only" in sync.words and "HF_TOKEN" in sync.words


def test_a_copy_that_cannot_be_read_is_never_pushed_over(tmp_path):
    hub = FolderHub(tmp_path / "hub", fail_download=True)
    store = AnswerStore(tmp_path / "q.sqlite3")
    sync = HubSync(store, "me/quiz", token="hf_test", api=hub).start()
    answer(store, "t1")
    assert not sync.pushing and not sync.push() and hub.uploads == 0
    assert "kept on this machine only" in sync.words and "cannot be reached" in sync.words

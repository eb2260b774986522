"""Real or generated?: the Wilson interval's known values, the answer store, the rules of honest play, and the quiz
through the API, under load, across a killed and restarted server, and with a broken answer file."""
import csv
import io
import json
import os
import signal
import sqlite3
import threading
import time

import pytest
from gradio_client import Client
from PIL import Image

from genzoo.answers import REAL, SCHEMA_VERSION, AnswerStore, StoreError, wilson
from genzoo.quiz import MAX_RATE, Quiz, new_browser_id
from genzoo.registry import SPECS
from genzoo.zoo import Zoo
from tests.app_server import AppServer


@pytest.mark.parametrize("k, n, low, high", [(8, 10, 0.4902, 0.9433), (0, 10, 0.0, 0.2775), (10, 10, 0.7225, 1.0),
                                             (50, 100, 0.4038, 0.5962), (1, 20, 0.0089, 0.2361)])
def test_wilson_interval_matches_known_values(k, n, low, high):
    lo, hi = wilson(k, n)
    assert lo == pytest.approx(low, abs=1e-4) and hi == pytest.approx(high, abs=1e-4)


def test_wilson_interval_with_no_answers_is_everything():
    assert wilson(0, 0) == (0.0, 1.0)


@pytest.mark.parametrize("n", [1, 3, 7, 10, 13, 160, 1001])
def test_wilson_interval_holds_a_rate_of_none_or_all_exactly(n):
    """The interval always contains the rate itself, even at 0 and 1 (rounding once left 5.6e-17 > 0)."""
    assert wilson(0, n)[0] == 0.0 and wilson(n, n)[1] == 1.0


@pytest.fixture
def store(tmp_path):
    return AnswerStore(tmp_path / "quiz.sqlite3")


def test_the_store_is_versioned_in_wal_mode_and_keeps_one_answer_per_picture(store):
    store.serve("t1", "browser-a", "mnist", "gan", 3)
    store.serve("t2", "browser-a", "mnist", REAL, 7)
    assert store.record("t1", "browser-a", "real") == ("mnist", "gan", False)          # fooled
    assert store.record("t2", "browser-a", "real") == ("mnist", REAL, True)
    with pytest.raises(StoreError, match="already answered"):
        store.record("t1", "browser-a", "generated")
    with pytest.raises(StoreError, match="not shown to you"):
        store.record("t2", "browser-b", "real")                # served to someone else
    with pytest.raises(StoreError, match="'real' or 'generated'"):
        store.record("t2", "browser-a", "maybe")
    con = sqlite3.connect(store.path)
    assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    columns = [r[1] for r in con.execute("PRAGMA table_info(answers)")]
    assert columns == ["token", "browser", "dataset", "source", "picture", "answer", "correct", "answered_at",
                       "channel"]
    scores = {s.source: s.rate for s in store.scores("mnist")}
    assert (scores["gan"].hits, scores["gan"].n) == (1, 1) and (scores[REAL].hits, scores[REAL].n) == (0, 1)


def test_rates_export_as_csv_with_their_intervals(store):
    for i in range(40):
        store.serve(f"g{i}", f"browser-{i:04d}", "mnist", "vae", 0)
        store.record(f"g{i}", f"browser-{i:04d}", "real" if i < 10 else "generated")
    rows = list(csv.DictReader(io.StringIO(store.export_csv())))
    assert rows == [{"dataset": "mnist", "source": "vae", "measure": "fooled (generated judged real)",
                     "rate": "0.2500", "ci95_low": f"{wilson(10, 40)[0]:.4f}", "ci95_high": f"{wilson(10, 40)[1]:.4f}",
                     "answers": "40"}]
    rate = store.scores("mnist")[0].rate
    assert rate.enough and rate.words().startswith("25% (")


def test_a_snapshot_is_a_whole_copy(store, tmp_path):
    store.serve("t", "browser-a", "mnist", "gan", 1)
    store.record("t", "browser-a", "generated")
    copy = AnswerStore(store.snapshot(tmp_path / "copy" / "quiz.sqlite3"))
    assert copy.count() == 1


def test_a_corrupt_answer_file_gives_a_clear_message(tmp_path):
    path = tmp_path / "quiz.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="damaged.*other tabs still work"):
        AnswerStore(path).count()


@pytest.fixture(scope="module")
def zoo(app_checkpoints):
    return Zoo(app_checkpoints)


def test_half_the_pictures_are_real_and_every_model_is_shown(zoo, tmp_path):
    quiz = Quiz(zoo, AnswerStore(tmp_path / "q.sqlite3"))
    sources = [quiz.choose("mnist", "browser-chooser")[0] for _ in range(600)]
    real = sources.count(REAL) / len(sources)
    assert 0.42 < real < 0.58                                       # 0.5 ± 4 standard errors
    assert set(sources) - {REAL} == set(quiz.models("mnist"))
    assert all(SPECS[m].generative for m in quiz.models("mnist"))


def test_answers_are_limited_to_two_a_second(zoo, tmp_path):
    quiz, browser = Quiz(zoo, AnswerStore(tmp_path / "q.sqlite3")), new_browser_id()
    tokens = [quiz.next("mnist", browser)[1] for _ in range(MAX_RATE + 1)]
    for t in tokens[:MAX_RATE]:
        quiz.answer(t, "real", browser)
    with pytest.raises(StoreError, match="slow down"):
        quiz.answer(tokens[-1], "real", browser)
    time.sleep(1.05)
    assert quiz.answer(tokens[-1], "real", browser).answered == MAX_RATE + 1


def test_a_round_of_ten_gives_the_score_and_who_fooled_you(zoo, tmp_path):
    quiz, browser = Quiz(zoo, AnswerStore(tmp_path / "q.sqlite3")), new_browser_id()
    for i in range(10):
        _, token = quiz.next("mnist", browser)
        verdict = quiz.answer(token, "real", browser)                # always "real": fooled by every model shown
        assert (verdict.round_summary is None) == (i < 9)
        time.sleep(0.5)
    source = [s for s, _ in quiz.store.recent(browser, 10)]
    right = source.count(REAL)
    assert verdict.round_summary.startswith(f"**Your score for the last 10: {right} right.**")
    for model in set(source) - {REAL}:
        assert SPECS[model].title in verdict.round_summary


# -- through the API -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def client(app_server):
    return Client(app_server.url, verbose=False)


def test_nothing_served_before_the_answer_tells_the_truth(client, app_server):
    browser = new_browser_id()
    names = [REAL, "real", "generated", *SPECS, *(s.title for s in SPECS.values())]
    for _ in range(12):
        picture, token = client.predict("mnist", browser, api_name="/quiz_next")
        served = json.dumps([os.path.basename(picture), token]).lower()      # the file's name comes from its URL
        assert not any(n.lower() in served for n in names if len(n) > 2), served
        with Image.open(picture) as im:
            assert im.size == (224, 224) and im.mode == "L" and not im.text      # no text chunks: no metadata
        verdict = client.predict(token, "generated", browser, api_name="/quiz_answer")
        assert verdict["truth"] == "a real picture" or verdict["truth"].startswith("drawn by ")
        time.sleep(0.5)
    with pytest.raises(Exception, match="not shown to you"):
        client.predict("made-up-token", "real", browser, api_name="/quiz_answer")
    with pytest.raises(Exception, match="already answered"):
        client.predict(token, "real", browser, api_name="/quiz_answer")
    with pytest.raises(Exception, match="browser_id must be a random id"):      # words for a program
        client.predict("mnist", "x", api_name="/quiz_next")


def play(url: str, answers: int, counts: list, errors: list) -> None:
    try:
        c, browser = Client(url, verbose=False), new_browser_id()
        for i in range(answers):
            _, token = c.predict("mnist", browser, api_name="/quiz_next")
            c.predict(token, "real" if i % 2 else "generated", browser, api_name="/quiz_answer")
            counts.append(1)
            time.sleep(0.5)                                  # within the limit of two answers a second
    except Exception as exc:          # noqa: BLE001 - reported by the test
        errors.append(repr(exc))


ANSWERS_EACH = 10     # 160 answers from 16 players at once (25 each took 150 s on a slow machine)


@pytest.mark.timeout(300)
def test_sixteen_players_then_a_killed_server_lose_and_double_nothing(app_checkpoints, tmp_path):
    db = tmp_path / "quiz.sqlite3"
    server = AppServer(app_checkpoints, tmp_path / "app.log", GENZOO_DB=str(db), GENZOO_WARM="0")
    counts, errors = [], []
    players = [threading.Thread(target=play, args=(server.url, ANSWERS_EACH, counts, errors)) for _ in range(16)]
    try:
        for p in players:
            p.start()
        for p in players:
            p.join()
        assert not errors and len(counts) == 16 * ANSWERS_EACH
        os.kill(server.proc.pid, signal.SIGKILL)              # no shutdown: whatever was committed must be there
        server.proc.wait()
    finally:
        server.stop()
    con = sqlite3.connect(db)
    assert con.execute("SELECT COUNT(*), COUNT(DISTINCT token) FROM answers").fetchone() == (len(counts),) * 2
    assert con.execute("SELECT COUNT(DISTINCT browser) FROM answers").fetchone()[0] == 16
    con.close()
    again = AppServer(app_checkpoints, tmp_path / "app2.log", GENZOO_DB=str(db), GENZOO_WARM="0")
    try:
        # every answer was kept, but a program's answers (these came through the API) are not people's
        results = Client(again.url, verbose=False).predict("mnist", api_name="/quiz_results")
        assert results == []
        print(f"16 players x {ANSWERS_EACH} answers: {len(counts)} sent; after SIGKILL and restart all kept, "
              f"none twice, none counted as people's")
    finally:
        again.stop()


def test_a_broken_or_busy_answer_file_leaves_the_other_tabs_working(app_checkpoints, tmp_path):
    db = tmp_path / "quiz.sqlite3"
    db.write_bytes(b"garbage " * 512)
    server = AppServer(app_checkpoints, tmp_path / "app.log", GENZOO_DB=str(db), GENZOO_WARM="0")
    try:
        c, browser = Client(server.url, verbose=False), new_browser_id()
        with pytest.raises(Exception, match="damaged"):
            c.predict("mnist", browser, api_name="/quiz_next")
        gallery = c.predict("mnist", ["vae"], 2, 0, "ddim", 5, api_name="/sample")
        assert len(gallery) == 1
        rows = c.predict("mnist", api_name="/scoreboard")[0]["data"]
        assert all(row[-1] == "no answers yet" for row in rows)
        db.unlink()                                            # a fresh file: the quiz works again
        _, token = c.predict("mnist", browser, api_name="/quiz_next")
        lock = sqlite3.connect(db, isolation_level=None)
        lock.execute("BEGIN EXCLUSIVE")                         # another writer holds the file
        try:
            with pytest.raises(Exception, match="busy"):
                c.predict(token, "real", browser, api_name="/quiz_answer")
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        assert c.predict(token, "real", browser, api_name="/quiz_answer")["answered"] == 1
    finally:
        server.stop()


def test_pictures_drawn_ahead_are_used_only_while_their_weights_ship(app_checkpoints, tmp_path, capsys):
    import shutil

    from genzoo.cli import main
    from genzoo.quiz import read_pool

    root = tmp_path / "checkpoints"
    shutil.copytree(app_checkpoints / "mnist", root / "mnist")
    assert main(["quiz-pool", "--dataset", "mnist", "--n", "3", "--checkpoints", str(root), "--no-progress"]) == 0
    zoo = Zoo(root)
    ahead = read_pool(zoo, "mnist")
    assert set(ahead) == {n for n in zoo.ready("mnist") if SPECS[n].generative}
    assert all(a.shape == (3, 28, 28) and a.dtype.name == "uint8" for a in ahead.values())
    weights = root / "mnist" / "gan" / "model.safetensors"
    weights.write_bytes(weights.read_bytes() + b" ")        # other weights: the GAN's pictures are drawn again
    assert "gan" not in read_pool(Zoo(root), "mnist") and "vae" in read_pool(Zoo(root), "mnist")


def test_the_export_command_writes_the_table(tmp_path, capsys):
    from genzoo.cli import main

    store = AnswerStore(tmp_path / "q.sqlite3")
    store.serve("t", "browser-a", "fashion", REAL, 2)
    store.record("t", "browser-a", "generated")
    assert main(["quiz-export", "--db", str(store.path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("dataset,source,measure,rate") and out[1].startswith("fashion,real,false alarm")

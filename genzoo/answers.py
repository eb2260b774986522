"""What quiz players answered, kept in one SQLite file, and the human-eye metric computed from it.

The metric is HYPE-infinity (Zhou et al., NeurIPS 2019): with no time limit, how often people take a model's
pictures for real ones (the *fooled rate*), beside how often they take real pictures for generated ones (the
*false-alarm rate*). Each rate comes with its 95 % Wilson score interval and its number of answers.

The file's path comes from ``$GENZOO_DB`` (default ``data/quiz.sqlite3``, git-ignored). It is opened in WAL mode,
so answers survive the process being killed, and its schema is versioned with ``PRAGMA user_version``. Nothing
personal is stored: a random id per browser, never an IP address.

Each picture is served, and so answered, through a channel: ``page`` (a person in the app's page) or ``api`` (a
program, through the public API or an MCP tool). Only the page's answers make the human score.

On a Space, ``genzoo.quiz_sync`` keeps the file in a Hub dataset.
"""
from __future__ import annotations

import csv
import io
import math
import os
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

SCHEMA_VERSION = 2
REAL = "real"                       # the source of a real test picture; any other source is a model's name
ANSWERS = ("real", "generated")
PAGE, API = "page", "api"           # who answers: a person in the page, or a program (not counted as human)
CHANNELS = (PAGE, API)
BUSY_S = 5.0                        # how long a write waits for another writer before giving up (2 s was too
                                    # short for 16 players on a busy 2-core machine)
TOO_FEW = 30                        # below this many answers a rate is shown as "too few answers"
Z95 = 1.959963984540054

SCHEMA = """
CREATE TABLE served (
    token      TEXT PRIMARY KEY,         -- random, the only thing a player is told about a picture
    browser    TEXT NOT NULL,            -- a random id kept in the player's browser
    dataset    TEXT NOT NULL,
    source     TEXT NOT NULL,            -- 'real' or a model's name
    picture    INTEGER NOT NULL,         -- which picture of that source's pool
    served_at  REAL NOT NULL,
    channel    TEXT NOT NULL DEFAULT 'page' CHECK (channel IN ('page', 'api'))
);
CREATE TABLE answers (
    token       TEXT PRIMARY KEY REFERENCES served (token),
    browser     TEXT NOT NULL,
    dataset     TEXT NOT NULL,
    source      TEXT NOT NULL,
    picture     INTEGER NOT NULL,
    answer      TEXT NOT NULL CHECK (answer IN ('real', 'generated')),
    correct     INTEGER NOT NULL,
    answered_at REAL NOT NULL,
    channel     TEXT NOT NULL DEFAULT 'page' CHECK (channel IN ('page', 'api')),  -- the served picture's
    UNIQUE (browser, dataset, source, picture)   -- one answer per picture per browser
);
CREATE INDEX served_by_browser ON served (browser, dataset);
CREATE INDEX answers_by_dataset ON answers (dataset, source);
"""


class StoreError(ValueError):
    """The answer store cannot be used just now; the sentence is meant for the player."""


def default_path() -> Path:
    return Path(os.environ.get("GENZOO_DB") or Path(__file__).resolve().parents[1] / "data" / "quiz.sqlite3")


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion (95 % by default); (0, 1) when there are no answers."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    # at p = 0 (or 1) the bound is exactly 0 (or 1); rounding would leave it a hair inside, above the rate itself
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


@dataclass(frozen=True)
class Rate:
    """How often people judged a source's pictures wrongly: for a model, generated pictures taken for real (the
    fooled rate); for real pictures, real ones taken for generated (the false-alarm rate)."""
    hits: int
    n: int

    @property
    def value(self) -> Optional[float]:
        return self.hits / self.n if self.n else None

    @property
    def interval(self) -> tuple[float, float]:
        return wilson(self.hits, self.n)

    @property
    def enough(self) -> bool:
        return self.n >= TOO_FEW

    def words(self) -> str:
        if not self.enough:
            return f"too few answers ({self.n})"
        lo, hi = self.interval
        return f"{self.value:.0%} ({lo:.0%}–{hi:.0%}, {self.n} answers)"


@dataclass(frozen=True)
class HumanScore:
    """One source's answers: for a model, ``rate`` counts pictures judged real (people fooled); for real pictures,
    pictures judged generated (false alarms)."""
    dataset: str
    source: str
    rate: Rate


class AnswerStore:
    """The quiz's SQLite file. Every call opens its own connection, so handlers on many threads can share one."""

    def __init__(self, path: Optional[Path] = None):
        self.path = Path(path or default_path())

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            con = sqlite3.connect(self.path, timeout=BUSY_S, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"the quiz cannot open its answer file ({exc}); the other tabs still work") from None
        try:
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=FULL")
            self._migrate(con)
            yield con
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise StoreError("the quiz's answer file is busy just now; try again in a moment") from None
            raise StoreError(f"the quiz's answer file cannot be used ({exc}); the other tabs still work") from None
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"the quiz's answer file is damaged ({exc}); the other tabs still work") from None
        finally:
            con.close()

    @staticmethod
    def _migrate(con: sqlite3.Connection) -> None:
        version = con.execute("PRAGMA user_version").fetchone()[0]
        if version == SCHEMA_VERSION:
            return
        if version > SCHEMA_VERSION:
            raise StoreError(f"the quiz's answer file has schema version {version}, newer than this app's "
                             f"({SCHEMA_VERSION})")
        con.execute("BEGIN IMMEDIATE")            # one writer creates the tables; the others wait, then see them
        try:
            version = con.execute("PRAGMA user_version").fetchone()[0]
            if version == 0:
                for statement in filter(str.strip, SCHEMA.split(";")):
                    con.execute(statement)
            elif version == 1:                    # before channels: every answer came from the page
                for table in ("served", "answers"):
                    con.execute(f"ALTER TABLE {table} ADD COLUMN channel TEXT NOT NULL DEFAULT 'page'")
            if version < SCHEMA_VERSION:
                con.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise

    # -- writing -------------------------------------------------------------------------------
    def serve(self, token: str, browser: str, dataset: str, source: str, picture: int, channel: str = PAGE) -> None:
        if channel not in CHANNELS:
            raise ValueError(f"channel must be one of {CHANNELS}, got {channel!r}")
        with self.connect() as con:
            con.execute("INSERT INTO served VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (token, browser, dataset, source, picture, time.time(), channel))

    def record(self, token: str, browser: str, answer: str) -> tuple[str, str, bool]:
        """Store an answer to a served picture; its dataset, source and whether it was right. Raises StoreError with
        the reason when the picture was not served to this browser or was answered already."""
        if answer not in ANSWERS:
            raise StoreError(f"an answer is 'real' or 'generated', not {answer!r}")
        with self.connect() as con:
            row = con.execute("SELECT dataset, source, picture, channel FROM served WHERE token = ? AND browser = ?",
                              (token, browser)).fetchone()
            if row is None:
                raise StoreError("that picture was not shown to you, so it cannot be answered; ask for a new one")
            dataset, source, picture, channel = row
            correct = (answer == REAL) == (source == REAL)
            try:
                con.execute("INSERT INTO answers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            (token, browser, dataset, source, picture, answer, int(correct), time.time(), channel))
            except sqlite3.IntegrityError:
                raise StoreError("you have already answered that picture; ask for a new one") from None
            return dataset, source, correct

    # -- reading -------------------------------------------------------------------------------
    def seen(self, browser: str, dataset: str) -> set[tuple[str, int]]:
        """The pictures already served to a browser for a dataset (answered or not)."""
        with self.connect() as con:
            return set(con.execute("SELECT source, picture FROM served WHERE browser = ? AND dataset = ?",
                                   (browser, dataset)))

    def recent(self, browser: str, n: int) -> list[tuple[str, bool]]:
        """A browser's last ``n`` answers, oldest first: (source, right)."""
        with self.connect() as con:
            rows = con.execute("SELECT source, correct FROM answers WHERE browser = ? ORDER BY answered_at DESC, "
                               "rowid DESC LIMIT ?", (browser, n)).fetchall()
        return [(s, bool(c)) for s, c in reversed(rows)]

    def count(self, browser: Optional[str] = None) -> int:
        with self.connect() as con:
            if browser is None:
                return con.execute("SELECT COUNT(*) FROM answers").fetchone()[0]
            return con.execute("SELECT COUNT(*) FROM answers WHERE browser = ?", (browser,)).fetchone()[0]

    def scores(self, dataset: Optional[str] = None) -> list[HumanScore]:
        """Every source's rate, by dataset, from people's answers in the page alone: models' fooled rates and real
        pictures' false-alarm rates."""
        query = ("SELECT dataset, source, SUM(CASE WHEN (source = 'real') = (answer = 'real') THEN 0 ELSE 1 END), "
                 "COUNT(*) FROM answers WHERE channel = 'page' {} GROUP BY dataset, source ORDER BY dataset, source")
        with self.connect() as con:
            rows = (con.execute(query.format("AND dataset = ?"), (dataset,)) if dataset else
                    con.execute(query.format(""))).fetchall()
        # for a model a wrong answer is "real" (fooled); for real pictures it is "generated" (a false alarm)
        return [HumanScore(ds, source, Rate(int(wrong), int(n))) for ds, source, wrong, n in rows]

    def export_csv(self, dataset: Optional[str] = None) -> str:
        """The metric table as CSV: one row per dataset and source."""
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(["dataset", "source", "measure", "rate", "ci95_low", "ci95_high", "answers"])
        for s in self.scores(dataset):
            lo, hi = s.rate.interval
            measure = "false alarm (real judged generated)" if s.source == REAL else "fooled (generated judged real)"
            w.writerow([s.dataset, s.source, measure, f"{s.rate.value:.4f}", f"{lo:.4f}", f"{hi:.4f}", s.rate.n])
        return out.getvalue()

    def snapshot(self, target: Path) -> Path:
        """A consistent copy of the whole file (SQLite's online backup), safe to upload while answers arrive."""
        target = Path(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = target.with_suffix(".tmp")
        with self.connect() as con, sqlite3.connect(staging) as copy:
            con.backup(copy)
        staging.replace(target)
        return target

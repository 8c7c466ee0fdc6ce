"""Feedback on answers: a thumbs up or down with an optional comment, kept in a local SQLite file
with the answer's JSON, the settings hash and the time, and written out as benchmark lines
(eval/README.md's format) so evaluators can turn complaints into test questions."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from qa.language import question_language

Rating = Literal["up", "down"]
RATINGS: tuple[str, ...] = ("up", "down")
MAX_COMMENT_CHARS = 2000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created TEXT NOT NULL,
    rating TEXT NOT NULL CHECK (rating IN ('up', 'down')),
    comment TEXT NOT NULL,
    answer_id TEXT NOT NULL,
    answer TEXT NOT NULL,
    settings_hash TEXT NOT NULL,
    source TEXT NOT NULL
)
"""


@dataclass(frozen=True)
class Feedback:
    id: int
    created: str
    rating: str
    comment: str
    answer_id: str
    answer: dict
    settings_hash: str
    source: str
    """Where it was given: 'chat' or 'api'."""

    def public_json(self) -> dict:
        return {"id": self.id, "created": self.created, "rating": self.rating, "comment": self.comment,
                "answer_id": self.answer_id, "settings_hash": self.settings_hash, "source": self.source}


def answer_id(answer: dict) -> str:
    """A stable id of an answer's JSON: the same answer rated twice (or commented on later) is one answer."""
    blob = json.dumps(answer, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


class FeedbackFileError(OSError):
    """The feedback file exists but is not a feedback database (an OSError: the CLI fails in one line)."""


class FeedbackStore:
    """The SQLite file at ``path``; a connection per call, so chat and API threads never share one."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=10)
        try:
            connection.execute(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            connection.close()
            raise FeedbackFileError(f"{self.path} is not a feedback database ({exc}); move it away to start a "
                                    "new one") from exc
        return connection

    def add(self, answer: dict, rating: str, comment: str, settings_hash: str, source: str) -> Feedback:
        if rating not in RATINGS:
            raise ValueError(f"rating must be one of {', '.join(RATINGS)}")
        if len(comment) > MAX_COMMENT_CHARS:
            raise ValueError(f"the comment is {len(comment)} characters long; the limit is {MAX_COMMENT_CHARS}")
        created = datetime.now(UTC).isoformat(timespec="seconds")
        ident = answer_id(answer)
        blob = json.dumps(answer, ensure_ascii=False)
        with self._connect() as connection:
            cursor = connection.execute(
                "INSERT INTO feedback (created, rating, comment, answer_id, answer, settings_hash, source) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)", (created, rating, comment, ident, blob, settings_hash, source))
            row_id = cursor.lastrowid
        connection.close()
        return Feedback(row_id, created, rating, comment, ident, answer, settings_hash, source)

    def answer(self, ident: str) -> dict | None:
        """The JSON of an answer rated before, by its answer_id; None when none was."""
        if not self.path.exists():
            return None
        with self._connect() as connection:
            row = connection.execute("SELECT answer FROM feedback WHERE answer_id = ? ORDER BY id DESC LIMIT 1",
                                     (ident,)).fetchone()
        connection.close()
        return json.loads(row[0]) if row else None

    def all(self) -> list[Feedback]:
        """Every feedback, oldest first; [] (and no file created) when none was ever given."""
        if not self.path.exists():
            return []
        with self._connect() as connection:
            rows = connection.execute(
                "SELECT id, created, rating, comment, answer_id, answer, settings_hash, source "
                "FROM feedback ORDER BY id").fetchall()
        connection.close()
        return [Feedback(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), r[6], r[7]) for r in rows]


def benchmark_line(feedback: Feedback) -> dict:
    """One benchmark line (eval/README.md) from one feedback.

    A thumbs up confirms the answer: its cited paragraphs are the gold and its quotes the accepted
    answers (an approved abstention is an unanswerable question). A thumbs down is a complaint, a
    draft marked ``needs_review``: gold and answers are left for the evaluator to fill in; a
    complaint about an abstention says the record answers it, and one about an answer starts as
    answerable until the evaluator decides otherwise. A follow-up is written as the
    question it was searched as, so the line stands without its conversation."""
    answer = feedback.answer
    question = answer.get("standalone_question") or answer.get("question", "")
    abstained = bool(answer.get("abstained"))
    citations = answer.get("citations") or []
    approved = feedback.rating == "up"
    return {
        "id": f"feedback-{feedback.id:04d}",
        "question": question,
        "lang": answer.get("lang") or question_language(question),
        "type": "feedback",
        "gold_paragraphs": list(dict.fromkeys(str(c["paragraph"]) for c in citations))
        if approved and not abstained else [],
        "answers": [c["quote"] for c in citations] if approved and not abstained else [],
        "answerable": not abstained if approved else True,
        "needs_review": not approved,
        "feedback": {
            "rating": feedback.rating, "comment": feedback.comment, "created": feedback.created,
            "source": feedback.source, "settings_hash": feedback.settings_hash, "answer_id": feedback.answer_id,
            "asked": answer.get("question", ""), "answer": answer.get("answer", ""),
            "outcome": answer.get("outcome"), "cited": [str(c["paragraph"]) for c in citations],
            "retrieved": answer.get("retrieved", []),
        },
    }


def benchmark_lines(feedback: list[Feedback]) -> list[dict]:
    return [benchmark_line(f) for f in feedback]

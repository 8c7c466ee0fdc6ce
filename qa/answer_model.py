"""The fitted answer models: which sentence answers, and whether to answer at all. Pure numpy.

``qa/answer_model.json`` holds two logistic regressions per retrieval setting ("dense" when
sentence and question embeddings exist, "lexical" otherwise): the sentence selector over
``SENTENCE_FEATURES`` and the answerability model over ``QUESTION_FEATURES``, each as feature
names, standardisation (mean, scale), coefficients and intercept, plus the operating thresholds
chosen on the cross-validated trade-off curve. `recordqa eval fit` (``eval/fit.py``) writes it
and prints its cross-validated figures; the file's hash is part of the settings hash, so every
answer says which fit produced it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.features import QUESTION_FEATURES, SENTENCE_FEATURES

DEFAULT_MODEL = Path(__file__).with_name("answer_model.json")


class AnswerModelError(RuntimeError):
    """The fitted model file is missing or malformed; the message names the file and the fix."""


@dataclass(frozen=True)
class Logistic:
    names: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    def probability(self, rows: list[Mapping[str, float]]) -> np.ndarray:
        if not rows:
            return np.zeros(0)
        x = np.array([[float(r[n]) for n in self.names] for r in rows], dtype=np.float64)
        z = ((x - self.mean) / self.scale) @ self.coef + self.intercept
        return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))

    def contributions(self, row: Mapping[str, float]) -> dict[str, float]:
        """Each feature's share of the logit, for `--explain`."""
        x = np.array([float(row[n]) for n in self.names])
        parts = (x - self.mean) / self.scale * self.coef
        return {n: round(float(v), 3) for n, v in zip(self.names, parts, strict=True)}

    @classmethod
    def from_json(cls, data: dict, allowed: tuple[str, ...], where: str) -> Logistic:
        names = tuple(data["features"])
        unknown = [n for n in names if n not in allowed]
        if unknown:
            raise AnswerModelError(f"{where}: unknown features {', '.join(unknown)}; rerun `recordqa eval fit`")
        arrays = [np.asarray(data[k], dtype=np.float64) for k in ("mean", "scale", "coef")]
        if any(a.shape != (len(names),) for a in arrays):
            raise AnswerModelError(f"{where}: mean/scale/coef do not match the feature list")
        mean, scale, coef = arrays
        return cls(names, mean, np.where(scale > 0, scale, 1.0), coef, float(data["intercept"]))


@dataclass(frozen=True)
class Fit:
    selector: Logistic
    answerability: Logistic
    answer_threshold: float
    """Answer when the answerability probability is at least this."""
    indirect_threshold: float
    """Between this and answer_threshold: 'the record does not state this directly' with the closest passages."""
    extra_sentence_ratio: float
    """A further sentence is quoted when its score is at least this share of the best one's."""


@dataclass(frozen=True)
class AnswerModel:
    fits: dict[str, Fit]
    digest: str
    cv: dict
    dense_model: str | None = None
    """The embedding model the dense fit's similarities came from."""

    def fit_for(self, dense_model: str | None) -> Fit:
        """The dense fit when the index's embeddings are the ones it was fitted on (similarities of
        another model are on another scale), else the lexical fit."""
        if dense_model is not None and dense_model == self.dense_model and "dense" in self.fits:
            return self.fits["dense"]
        return self.fits["lexical"]


def load_answer_model(path: Path = DEFAULT_MODEL) -> AnswerModel:
    try:
        blob = path.read_bytes()
        data = json.loads(blob)
    except (OSError, ValueError) as exc:
        raise AnswerModelError(f"{path}: cannot read the fitted answer model ({exc}); run `recordqa eval fit`") from exc
    fits = {}
    try:
        for name, fit in data["fits"].items():
            fits[name] = Fit(
                Logistic.from_json(fit["selector"], SENTENCE_FEATURES, f"{path}: {name}.selector"),
                Logistic.from_json(fit["answerability"], QUESTION_FEATURES, f"{path}: {name}.answerability"),
                float(fit["answer_threshold"]), float(fit["indirect_threshold"]),
                float(fit["extra_sentence_ratio"]),
            )
    except (KeyError, TypeError) as exc:
        raise AnswerModelError(
            f"{path}: malformed fitted answer model (missing {exc}); run `recordqa eval fit`") from exc
    if "lexical" not in fits:
        raise AnswerModelError(f"{path}: no 'lexical' fit; run `recordqa eval fit`")
    return AnswerModel(fits, hashlib.sha256(blob).hexdigest()[:12], data.get("cv", {}),
                       (data.get("fitted_on") or {}).get("dense_model"))


def model_digest(path: Path = DEFAULT_MODEL) -> str:
    """Hash of the fitted model file ('missing' when absent), for the settings hash."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    except OSError:
        return "missing"

"""Prompt text files, checked at load for exactly the variables the chain supplies."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # langchain_core takes a second to import; commands that load no prompt skip it
    from langchain_core.prompts import ChatPromptTemplate

ANSWER_VARIABLES = frozenset({"language", "paragraphs", "question"})
CONDENSE_VARIABLES = frozenset({"language", "history", "question"})


class PromptError(ValueError):
    pass


@dataclass(frozen=True)
class Prompts:
    answer: ChatPromptTemplate
    condense: ChatPromptTemplate


def load_prompt(folder: Path, name: str, variables: frozenset[str]) -> ChatPromptTemplate:
    from langchain_core.prompts import ChatPromptTemplate

    parts = []
    for role, suffix in (("system", "system"), ("human", "user")):
        path = folder / f"{name}_{suffix}.txt"
        if not path.exists():
            raise PromptError(f"prompt file {path} is missing")
        parts.append((role, path.read_text(encoding="utf-8").strip()))
    template = ChatPromptTemplate.from_messages(parts)
    found = set(template.input_variables)
    if found != variables:
        missing, unknown = sorted(variables - found), sorted(found - variables)
        raise PromptError(
            f"prompt '{name}' in {folder}: " + "; ".join(
                text for text in (f"missing variables {missing}" if missing else "",
                                  f"unknown variables {unknown}" if unknown else "") if text)
        )
    return template


def load_prompts(folder: Path) -> Prompts:
    return Prompts(load_prompt(folder, "answer", ANSWER_VARIABLES), load_prompt(folder, "condense", CONDENSE_VARIABLES))

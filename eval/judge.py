"""LLM-as-judge metrics, computed only when a judge model is configured; never estimated.

- citation support (ALCE): each answer sentence that cites paragraphs is checked against the
  text of exactly those paragraphs; the share supported.
- faithfulness (RAGAS): each answer sentence is checked against the retrieved paragraphs the
  answer could draw on (the top five); the share supported.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage

from qa.citation import MARKER, cited_numbers
from qa.prompt import load_prompt

JUDGE_VARIABLES = frozenset({"evidence", "statement"})
_SENTENCE_CITES = re.compile(r"[^。！？.!?\[]+(?:[。！？.!?])?\s*((?:\[¶[^\]]*\]\s*)+)|[^。！？.!?\[]+[。！？.!?]")


class JudgeUnavailable(RuntimeError):
    pass


def statements(answer: str) -> list[tuple[str, list[str]]]:
    """Answer sentences with the paragraph numbers each cites (markers after the sentence). Pure."""
    out = []
    for match in _SENTENCE_CITES.finditer(answer):
        text = MARKER.sub("", match.group(0)).strip()
        if len(text) >= 4:
            out.append((text, cited_numbers(match.group(0))))
    return out


def verdict(reply: str) -> bool | None:
    """yes -> True, no -> False, anything else -> None (not counted). Pure."""
    word = re.sub(r"[^a-z是否]", "", reply.strip().lower()[:8])
    if word.startswith(("yes", "是")):
        return True
    if word.startswith(("no", "否")):
        return False
    return None


class Judge:
    def __init__(self, llm: BaseChatModel, prompts_dir: Path, name: str):
        self.llm = llm
        self.prompt = load_prompt(prompts_dir, "judge", JUDGE_VARIABLES)
        self.name = name

    def supports(self, statement: str, evidence: str) -> bool | None:
        reply: BaseMessage = self.llm.invoke(self.prompt.format_messages(statement=statement, evidence=evidence))
        return verdict(str(reply.content))

    def item_scores(self, result: dict, paragraph_text: Callable[[str], str]) -> dict:
        if result["abstained"] or not result["answer"]:
            return {"citation_support": None, "faithfulness": None}
        cited, faithful = [], []
        context = "\n\n".join(f"[¶{p}] {paragraph_text(p)}" for p in (result["retrieved"] or [])[:5])
        for sentence, numbers in statements(result["answer"]):
            try:
                if numbers:
                    evidence = "\n\n".join(f"[¶{n}] {paragraph_text(n)}" for n in numbers)
                    cited.append(self.supports(sentence, evidence))
                if context:
                    faithful.append(self.supports(sentence, context))
            except Exception as exc:  # the judge is an external service; its failure must not end the run
                raise JudgeUnavailable(f"judge {self.name} failed: {type(exc).__name__}: {exc}") from exc
        cited = [v for v in cited if v is not None]
        faithful = [v for v in faithful if v is not None]
        return {"citation_support": sum(cited) / len(cited) if cited else None,
                "faithfulness": sum(faithful) / len(faithful) if faithful else None}

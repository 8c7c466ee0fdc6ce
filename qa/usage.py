"""Token counts of an answer, for the ``usage`` of OpenAI-compatible responses.

When the LLM reports usage for its calls (condense and answer), those reports are summed:
prompt tokens are what RecordQA sent the model, completion tokens what it wrote. When no call
reported usage (extractive answers, or an endpoint that does not count), the exchange is
estimated: one token per CJK character plus one per four other non-space characters (rounded
up), over the request's messages (prompt) and the answer text (completion).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

_CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")


@dataclass
class TokenUsage:
    """Filled in while an answer is made; ``reported`` once any LLM call reported its usage."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    reported: bool = False

    def add_reported(self, metadata: Mapping | None) -> None:
        """Add a LangChain ``usage_metadata`` ({input_tokens, output_tokens, ...}); None is ignored."""
        if not metadata:
            return
        self.prompt_tokens += int(metadata.get("input_tokens") or 0)
        self.completion_tokens += int(metadata.get("output_tokens") or 0)
        self.reported = True

    def as_json(self, prompt_text: str, completion_text: str) -> dict:
        """OpenAI's usage object: the reported counts, else the estimate of the two texts."""
        if self.reported:
            prompt, completion = self.prompt_tokens, self.completion_tokens
        else:
            prompt, completion = estimate_tokens(prompt_text), estimate_tokens(completion_text)
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def estimate_tokens(text: str) -> int:
    """One token per CJK character plus one per four other non-space characters, rounded up."""
    cjk = len(_CJK.findall(text))
    other = sum(1 for ch in text if not ch.isspace()) - cjk
    return cjk + math.ceil(other / 4)

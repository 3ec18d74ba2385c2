"""The classify workload every tool in the peers bench runs: one source for the prompts, model and schema.

`python workload.py` prints it as JSON, so the TypeScript driver sends Drover the same request.
"""

import json
import resource
import sys
from typing import Literal

from pydantic import BaseModel

# A model all three know: batchata accepts only the dated OpenAI names in its own table.
MODEL = "gpt-4o-mini-2024-07-18"
SYSTEM_PROMPT = "Label the sentiment of the customer review as positive or negative."
MAX_TOKENS = 64
REVIEW_TEMPLATE = "Customer review {i}: arrived on time, works as described, would buy again."


class Sentiment(BaseModel):
    label: Literal["positive", "negative"]


def json_schema() -> dict:
    # What batchata sends for a response_model (OpenAI strict mode wants additionalProperties false).
    schema = Sentiment.model_json_schema()
    schema["additionalProperties"] = False
    return schema


def review(i: int) -> str:
    return REVIEW_TEMPLATE.format(i=i)


def result_line(tool: str, **fields: object) -> None:
    """The one line the driver parses: `RESULT {json}`, with this process's peak RSS (kB on Linux)."""
    maxrss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print("RESULT " + json.dumps({"tool": tool, **fields, "maxrss_kb": maxrss_kb}), flush=True)


if __name__ == "__main__":
    json.dump(
        {
            "model": MODEL,
            "system_prompt": SYSTEM_PROMPT,
            "max_tokens": MAX_TOKENS,
            "schema": json_schema(),
            "review_template": REVIEW_TEMPLATE,
        },
        sys.stdout,
    )

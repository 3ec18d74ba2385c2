"""Runs the classify workload through Bespoke Curator's OpenAI batch processor against the emulator.

    python curator_run.py --base-url http://127.0.0.1:4010/v1 --items 10000 --out /tmp/cu

`backend_params.base_url` goes to its `AsyncOpenAI(base_url=...)`. `batch_check_interval` is an
int of seconds (default 60); 1 is the least it accepts. Requests, responses and the final
dataset (Arrow) are written under --out, Curator's working directory, which is new per run so
its fingerprint cache never answers instead of the emulator.
"""

import argparse
import os
import time

from workload import MAX_TOKENS, MODEL, SYSTEM_PROMPT, Sentiment, result_line, review


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base-url", required=True)
    ap.add_argument("--items", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--batch-size", type=int, default=10_000)
    ap.add_argument("--poll-s", type=int, default=1)
    args = ap.parse_args()

    from bespokelabs import curator

    class Classify(curator.LLM):
        def prompt(self, row: dict) -> str:
            return row["review"]

        def parse(self, row: dict, response: Sentiment) -> dict:
            return {"id": row["id"], "label": response.label}

    t0 = time.perf_counter()
    llm = Classify(
        model_name=MODEL,
        response_format=Sentiment,
        batch=True,
        backend="openai",
        system_prompt=SYSTEM_PROMPT,
        generation_params={"max_tokens": MAX_TOKENS, "temperature": 0.0},
        backend_params={
            "base_url": args.base_url,
            "api_key": os.environ.get("OPENAI_API_KEY", "bench"),
            "batch_size": args.batch_size,
            "batch_check_interval": args.poll_s,
        },
    )
    rows = [{"id": f"b{i}", "review": review(i)} for i in range(args.items)]
    response = llm(rows, working_dir=args.out)
    t1 = time.perf_counter()

    dataset = response.dataset
    ok = sum(1 for label in dataset["label"] if label in ("positive", "negative"))
    result_line("curator", items=args.items, succeeded=ok, failed=args.items - ok, seconds=t1 - t0, rows=len(dataset))


if __name__ == "__main__":
    main()

"""Runs the classify workload through batchata against the emulator's OpenAI Batch API.

    OPENAI_BASE_URL=http://127.0.0.1:4010/v1 OPENAI_API_KEY=x python batchata_run.py --items 10000 --out /tmp/bt

batchata reads OPENAI_API_KEY and OPENAI_BASE_URL through the `openai` SDK's defaults (its
OpenAIProvider builds `OpenAI()` with no arguments). Its OpenAI poll interval is fixed in code
(`get_polling_interval` returns 5.0 s, against Cloudflare rate limits); --poll-s replaces it,
which only favours batchata. Results land as one JSON file per job in --out.
"""

import argparse
import os
import time

from workload import MAX_TOKENS, MODEL, SYSTEM_PROMPT, Sentiment, result_line, review


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--items-per-batch", type=int, default=50_000)
    ap.add_argument("--max-parallel", type=int, default=10)
    ap.add_argument("--poll-s", type=float, default=1.0)
    args = ap.parse_args()

    from batchata import Batch
    from batchata.providers import get_provider
    from batchata.providers.openai.openai_provider import OpenAIProvider

    OpenAIProvider.get_polling_interval = lambda self: args.poll_s  # type: ignore[method-assign]
    # The first lookup imports and builds every provider (anthropic, google-genai): start-up, not work.
    get_provider(MODEL)

    t0 = time.perf_counter()
    batch = (
        Batch(
            results_dir=args.out,
            max_parallel_batches=args.max_parallel,
            items_per_batch=args.items_per_batch,
            raw_files=False,
        )
        .set_default_params(model=MODEL, temperature=0.0, max_tokens=MAX_TOKENS)
        .set_verbosity("warn")
    )
    for i in range(args.items):
        batch.add_job(
            messages=[{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": review(i)}],
            response_model=Sentiment,
        )
    t_jobs = time.perf_counter()
    run = batch.run()
    t1 = time.perf_counter()

    results = run.results()
    ok = sum(1 for r in results["completed"] if isinstance(r.parsed_response, Sentiment))
    result_line(
        "batchata",
        items=args.items,
        succeeded=ok,
        failed=len(results["failed"]) + len(results["cancelled"]),
        seconds=t1 - t0,
        build_seconds=t_jobs - t0,
        result_files=sum(1 for n in os.listdir(args.out) if n.endswith(".json")),
    )


if __name__ == "__main__":
    main()

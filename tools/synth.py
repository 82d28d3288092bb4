"""Deterministic generator of realistic OpenRouter generation records (JSON lines).

Every random choice is drawn from one `random.Random(seed)` per stream, so the same arguments
always give the same records and the same bytes. Standard library only; nothing runs at import.

    iter_records(n, seed, start, days)  -> n records in increasing `created_at` order
    write_sample(out_dir, seed)          -> the bundled sample (several files + README.md)
    write_bench(path, n, seed)           -> n records as plain JSONL, streamed (about 1.5 KB each)

    python -m tools.synth sample [OUT_DIR]     (default data/sample)
    python -m tools.synth bench N OUT_FILE

The shape of a record follows its date: keys that arrived later (`router` 2026-01,
`provider_responses` 2026-02, `http_referer`/`user_agent` 2026-03, `request_id`/`session_id`
2026-04, `service_tier` 2026-05, `data_region` 2026-06, `workspace_id` 2026-08) are left out of
older records, and records before 2026 use the 2025 timestamp form
`2025-01-25T21:58:42.249238+00:00` instead of `2026-02-24T21:19:33.705Z`.

Cost model (per record, USD): with per-million-token prices `in`, `out`, `cache_read`,
`cache_write` of the model,
    cache_discount = cached * (in - cache_read) - cache_written * (cache_write - in)
    total_cost     = native_prompt * in + native_completion * out - cache_discount
                     + web search fee (0.004 per search result, 0.001 per fetch)
                     + image output (native_tokens_completion_images at the image price,
                       those tokens being inside native_tokens_completion)
and `usage == total_cost`. Under BYOK `total_cost`/`usage` hold only OpenRouter's fee (0 or 5 %
of the provider cost) and `upstream_inference_cost` holds the provider cost.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import random
import sys
import time
from bisect import bisect
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

DEFAULT_START = datetime(2026, 9, 1, tzinfo=UTC)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_HEX = "0123456789abcdef"

# When keys arrived in real exports (mirrors `since` in schemas/generation.toml).
SINCE: dict[str, tuple[int, int]] = {
    "router": (2026, 1),
    "provider_responses": (2026, 2),
    "http_referer": (2026, 3),
    "user_agent": (2026, 3),
    "request_id": (2026, 4),
    "session_id": (2026, 4),
    "service_tier": (2026, 5),
    "data_region": (2026, 6),
    "workspace_id": (2026, 8),
}

# Traffic rhythm: weekday (Mon..Sun) and UTC hour-of-day factors (EU morning + US afternoon).
_WEEKDAY = (1.0, 1.05, 1.06, 1.02, 0.92, 0.55, 0.50)
_HOUR = (
    0.34,
    0.28,
    0.24,
    0.22,
    0.22,
    0.25,
    0.33,
    0.46,
    0.64,
    0.80,
    0.90,
    0.95,
    1.00,
    1.08,
    1.16,
    1.20,
    1.18,
    1.10,
    1.00,
    0.90,
    0.78,
    0.64,
    0.52,
    0.42,
)

# ---------------------------------------------------------------------------------------------
# Catalogs. Prices are USD per million native tokens.
#   w: traffic weight; in/out/cr/cw: input, output, cache read, cache write (None = no caching)
#   cache: share of requests with cached prompt tokens; reason: share with reasoning tokens
#   kind: chat | embed | rerank | image; perma: versioned permaslug; tok: native/normalized ratio
#   ttft: median time to first token (ms); tps: median output tokens/s; mm: accepts images;
#   audio: accepts audio; providers: (provider_name, weight)
# ---------------------------------------------------------------------------------------------

_MODELS_2026 = [
    dict(
        slug="anthropic/claude-sonnet-4.5",
        w=14,
        inp=3.0,
        out=15.0,
        cr=0.30,
        cw=3.75,
        cache=0.8,
        reason=0.25,
        kind="chat",
        perma="anthropic/claude-4.5-sonnet-20250929",
        tok=1.16,
        ttft=1400,
        tps=60,
        mm=True,
        providers=[("Anthropic", 60), ("Amazon Bedrock", 25), ("Google Vertex", 15)],
    ),
    dict(
        slug="anthropic/claude-haiku-4.5",
        w=6,
        inp=1.0,
        out=5.0,
        cr=0.10,
        cw=1.25,
        cache=0.65,
        reason=0.1,
        kind="chat",
        perma="anthropic/claude-4.5-haiku-20251001",
        tok=1.16,
        ttft=650,
        tps=110,
        mm=True,
        providers=[("Anthropic", 65), ("Amazon Bedrock", 20), ("Google Vertex", 15)],
    ),
    dict(
        slug="anthropic/claude-opus-4.5",
        w=2,
        inp=5.0,
        out=25.0,
        cr=0.50,
        cw=6.25,
        cache=0.72,
        reason=0.35,
        kind="chat",
        perma="anthropic/claude-4.5-opus-20251124",
        tok=1.16,
        ttft=2000,
        tps=45,
        mm=True,
        providers=[("Anthropic", 70), ("Amazon Bedrock", 20), ("Google Vertex", 10)],
    ),
    dict(
        slug="openai/gpt-5",
        w=5,
        inp=1.25,
        out=10.0,
        cr=0.125,
        cw=None,
        cache=0.58,
        reason=1.0,
        kind="chat",
        perma="openai/gpt-5-2025-08-07",
        tok=1.0,
        ttft=3500,
        tps=70,
        mm=True,
        providers=[("OpenAI", 80), ("Azure", 20)],
    ),
    dict(
        slug="openai/gpt-5-mini",
        w=13,
        inp=0.25,
        out=2.0,
        cr=0.025,
        cw=None,
        cache=0.51,
        reason=1.0,
        kind="chat",
        perma="openai/gpt-5-mini-2025-08-07",
        tok=1.0,
        ttft=2200,
        tps=90,
        mm=True,
        providers=[("OpenAI", 85), ("Azure", 15)],
    ),
    dict(
        slug="openai/gpt-5-nano",
        w=3,
        inp=0.05,
        out=0.40,
        cr=0.005,
        cw=None,
        cache=0.36,
        reason=1.0,
        kind="chat",
        perma="openai/gpt-5-nano-2025-08-07",
        tok=1.0,
        ttft=1800,
        tps=140,
        mm=True,
        providers=[("OpenAI", 90), ("Azure", 10)],
    ),
    dict(
        slug="openai/gpt-4.1-mini",
        w=4,
        inp=0.40,
        out=1.60,
        cr=0.10,
        cw=None,
        cache=0.43,
        reason=0.0,
        kind="chat",
        perma="openai/gpt-4.1-mini-2025-04-14",
        tok=1.0,
        ttft=550,
        tps=80,
        mm=True,
        providers=[("OpenAI", 85), ("Azure", 15)],
    ),
    dict(
        slug="openai/gpt-4o-mini",
        w=4,
        inp=0.15,
        out=0.60,
        cr=0.075,
        cw=None,
        cache=0.36,
        reason=0.0,
        kind="chat",
        perma="openai/gpt-4o-mini-2024-07-18",
        tok=1.0,
        ttft=500,
        tps=75,
        mm=True,
        providers=[("OpenAI", 80), ("Azure", 20)],
    ),
    dict(
        slug="openai/gpt-oss-120b",
        w=4,
        inp=0.05,
        out=0.25,
        cr=None,
        cw=None,
        cache=0.0,
        reason=1.0,
        kind="chat",
        perma="openai/gpt-oss-120b",
        tok=1.01,
        ttft=450,
        tps=160,
        mm=False,
        providers=[
            ("Groq", 20),
            ("Cerebras", 15),
            ("Fireworks", 15),
            ("DeepInfra", 20),
            ("Together", 10),
            ("Parasail", 10),
            ("Novita", 10),
        ],
    ),
    dict(
        slug="google/gemini-2.5-flash",
        w=12,
        inp=0.30,
        out=2.50,
        cr=0.03,
        cw=None,
        cache=0.51,
        reason=0.45,
        kind="chat",
        perma="google/gemini-2.5-flash",
        tok=1.03,
        ttft=700,
        tps=180,
        mm=True,
        audio=True,
        providers=[("Google Vertex", 55), ("Google AI Studio", 45)],
    ),
    dict(
        slug="google/gemini-2.5-pro",
        w=4,
        inp=1.25,
        out=10.0,
        cr=0.125,
        cw=None,
        cache=0.58,
        reason=1.0,
        kind="chat",
        perma="google/gemini-2.5-pro",
        tok=1.03,
        ttft=2600,
        tps=95,
        mm=True,
        audio=True,
        providers=[("Google Vertex", 60), ("Google AI Studio", 40)],
    ),
    dict(
        slug="google/gemini-2.5-flash-lite",
        w=4,
        inp=0.10,
        out=0.40,
        cr=0.01,
        cw=None,
        cache=0.36,
        reason=0.05,
        kind="chat",
        perma="google/gemini-2.5-flash-lite",
        tok=1.03,
        ttft=380,
        tps=260,
        mm=True,
        audio=True,
        providers=[("Google Vertex", 50), ("Google AI Studio", 50)],
    ),
    dict(
        slug="google/gemini-2.5-flash-image",
        w=1,
        inp=0.30,
        out=2.50,
        cr=None,
        cw=None,
        cache=0.0,
        reason=0.0,
        kind="image",
        img=30.0,
        perma="google/gemini-2.5-flash-image",
        tok=1.03,
        ttft=4200,
        tps=120,
        mm=True,
        providers=[("Google Vertex", 50), ("Google AI Studio", 50)],
    ),
    dict(
        slug="meta-llama/llama-3.3-70b-instruct",
        w=4,
        inp=0.13,
        out=0.39,
        cr=None,
        cw=None,
        cache=0.0,
        reason=0.0,
        kind="chat",
        perma="meta-llama/llama-3.3-70b-instruct",
        tok=0.98,
        ttft=420,
        tps=70,
        mm=False,
        providers=[("DeepInfra", 30), ("Together", 20), ("Groq", 20), ("Fireworks", 15), ("Novita", 10), ("Lambda", 5)],
    ),
    dict(
        slug="meta-llama/llama-4-maverick",
        w=2,
        inp=0.15,
        out=0.60,
        cr=None,
        cw=None,
        cache=0.0,
        reason=0.0,
        kind="chat",
        perma="meta-llama/llama-4-maverick-17b-128e-instruct",
        tok=0.98,
        ttft=480,
        tps=110,
        mm=True,
        providers=[("DeepInfra", 30), ("Groq", 25), ("Together", 20), ("Fireworks", 15), ("Parasail", 10)],
    ),
    dict(
        slug="deepseek/deepseek-chat-v3.1",
        w=5,
        inp=0.20,
        out=0.80,
        cr=0.02,
        cw=None,
        cache=0.43,
        reason=0.2,
        kind="chat",
        perma="deepseek/deepseek-chat-v3.1",
        tok=1.05,
        ttft=900,
        tps=45,
        mm=False,
        providers=[
            ("DeepInfra", 25),
            ("Fireworks", 20),
            ("Novita", 15),
            ("Parasail", 15),
            ("Together", 10),
            ("SambaNova", 5),
            ("Chutes", 10),
        ],
    ),
    dict(
        slug="deepseek/deepseek-r1-0528",
        w=2,
        inp=0.40,
        out=1.75,
        cr=None,
        cw=None,
        cache=0.0,
        reason=1.0,
        kind="chat",
        perma="deepseek/deepseek-r1-0528",
        tok=1.05,
        ttft=1500,
        tps=40,
        mm=False,
        providers=[("DeepInfra", 30), ("Novita", 20), ("Together", 20), ("Fireworks", 20), ("Parasail", 10)],
    ),
    dict(
        slug="mistralai/mistral-small-3.2-24b-instruct",
        w=3,
        inp=0.06,
        out=0.18,
        cr=None,
        cw=None,
        cache=0.0,
        reason=0.0,
        kind="chat",
        perma="mistralai/mistral-small-3.2-24b-instruct-2506",
        tok=1.08,
        ttft=350,
        tps=120,
        mm=True,
        providers=[("Mistral", 50), ("DeepInfra", 30), ("Parasail", 20)],
    ),
    dict(
        slug="mistralai/mistral-medium-3.1",
        w=1,
        inp=0.40,
        out=2.0,
        cr=None,
        cw=None,
        cache=0.0,
        reason=0.0,
        kind="chat",
        perma="mistralai/mistral-medium-3.1",
        tok=1.08,
        ttft=500,
        tps=85,
        mm=True,
        providers=[("Mistral", 100)],
    ),
    dict(
        slug="qwen/qwen3-235b-a22b",
        w=3,
        inp=0.13,
        out=0.60,
        cr=None,
        cw=None,
        cache=0.0,
        reason=0.6,
        kind="chat",
        perma="qwen/qwen3-235b-a22b-04-28",
        tok=1.04,
        ttft=800,
        tps=55,
        mm=False,
        providers=[("Together", 25), ("DeepInfra", 25), ("Fireworks", 20), ("Novita", 15), ("Parasail", 5), ("Cerebras", 10)],
    ),
    dict(
        slug="qwen/qwen3-coder",
        w=3,
        inp=0.22,
        out=0.95,
        cr=None,
        cw=None,
        cache=0.0,
        reason=0.0,
        kind="chat",
        perma="qwen/qwen3-coder-480b-a35b-07-25",
        tok=1.04,
        ttft=700,
        tps=70,
        mm=False,
        providers=[("Together", 25), ("DeepInfra", 25), ("Fireworks", 20), ("Novita", 15), ("Cerebras", 15)],
    ),
    dict(
        slug="x-ai/grok-4-fast",
        w=4,
        inp=0.20,
        out=0.50,
        cr=0.05,
        cw=None,
        cache=0.65,
        reason=0.7,
        kind="chat",
        perma="x-ai/grok-4-fast",
        tok=1.02,
        ttft=900,
        tps=150,
        mm=True,
        providers=[("xAI", 100)],
    ),
    dict(
        slug="x-ai/grok-code-fast-1",
        w=3,
        inp=0.20,
        out=1.50,
        cr=0.02,
        cw=None,
        cache=0.87,
        reason=1.0,
        kind="chat",
        perma="x-ai/grok-code-fast-1",
        tok=1.02,
        ttft=1100,
        tps=170,
        mm=False,
        providers=[("xAI", 100)],
    ),
    dict(
        slug="moonshotai/kimi-k2-0905",
        w=2,
        inp=0.39,
        out=1.90,
        cr=0.15,
        cw=None,
        cache=0.43,
        reason=0.0,
        kind="chat",
        perma="moonshotai/kimi-k2-0905",
        tok=1.06,
        ttft=750,
        tps=50,
        mm=False,
        providers=[("Moonshot AI", 30), ("Groq", 20), ("Fireworks", 15), ("Together", 15), ("Novita", 10), ("Parasail", 10)],
    ),
    dict(
        slug="z-ai/glm-4.6",
        w=2,
        inp=0.40,
        out=1.75,
        cr=0.11,
        cw=None,
        cache=0.43,
        reason=0.8,
        kind="chat",
        perma="z-ai/glm-4.6",
        tok=1.07,
        ttft=1100,
        tps=55,
        mm=False,
        providers=[("Z.AI", 40), ("Novita", 20), ("DeepInfra", 20), ("Parasail", 20)],
    ),
    dict(
        slug="openai/text-embedding-3-small",
        w=3,
        inp=0.02,
        out=0.0,
        cr=None,
        cw=None,
        cache=0.0,
        reason=0.0,
        kind="embed",
        perma="openai/text-embedding-3-small",
        tok=1.0,
        ttft=180,
        tps=1,
        mm=False,
        providers=[("OpenAI", 100)],
    ),
    dict(
        slug="qwen/qwen3-embedding-8b",
        w=1,
        inp=0.01,
        out=0.0,
        cr=None,
        cw=None,
        cache=0.0,
        reason=0.0,
        kind="embed",
        perma="qwen/qwen3-embedding-8b",
        tok=1.04,
        ttft=150,
        tps=1,
        mm=False,
        providers=[("DeepInfra", 60), ("Nebius", 40)],
    ),
    dict(
        slug="cohere/rerank-v3.5",
        w=0.4,
        inp=0.0,
        out=0.0,
        cr=None,
        cw=None,
        cache=0.0,
        reason=0.0,
        kind="rerank",
        per_request=0.002,
        perma="cohere/rerank-v3.5",
        tok=1.0,
        ttft=220,
        tps=1,
        mm=False,
        providers=[("Cohere", 100)],
    ),
]

_MODELS_2025 = [
    dict(
        slug="anthropic/claude-3.5-sonnet",
        w=14,
        inp=3.0,
        out=15.0,
        cr=0.30,
        cw=3.75,
        cache=0.4,
        reason=0.0,
        kind="chat",
        perma="anthropic/claude-3.5-sonnet-20241022",
        tok=1.16,
        ttft=1300,
        tps=55,
        mm=True,
        providers=[("Anthropic", 70), ("Amazon Bedrock", 20), ("Google Vertex", 10)],
    ),
    dict(
        slug="anthropic/claude-3.5-haiku",
        w=4,
        inp=0.80,
        out=4.0,
        cr=0.08,
        cw=1.0,
        cache=0.3,
        reason=0.0,
        kind="chat",
        perma="anthropic/claude-3-5-haiku-20241022",
        tok=1.16,
        ttft=700,
        tps=65,
        mm=False,
        providers=[("Anthropic", 75), ("Amazon Bedrock", 25)],
    ),
    dict(
        slug="openai/gpt-4o",
        w=6,
        inp=2.5,
        out=10.0,
        cr=1.25,
        cw=None,
        cache=0.3,
        reason=0.0,
        kind="chat",
        perma="openai/gpt-4o-2024-08-06",
        tok=1.0,
        ttft=600,
        tps=80,
        mm=True,
        providers=[("OpenAI", 80), ("Azure", 20)],
    ),
    dict(
        slug="openai/gpt-4o-mini",
        w=10,
        inp=0.15,
        out=0.60,
        cr=0.075,
        cw=None,
        cache=0.25,
        reason=0.0,
        kind="chat",
        perma="openai/gpt-4o-mini-2024-07-18",
        tok=1.0,
        ttft=500,
        tps=75,
        mm=True,
        providers=[("OpenAI", 80), ("Azure", 20)],
    ),
    dict(
        slug="openai/o3-mini",
        w=2,
        inp=1.10,
        out=4.40,
        cr=0.55,
        cw=None,
        cache=0.2,
        reason=1.0,
        kind="chat",
        perma="openai/o3-mini-2025-01-31",
        tok=1.0,
        ttft=4000,
        tps=110,
        mm=False,
        providers=[("OpenAI", 100)],
    ),
    dict(
        slug="google/gemini-2.0-flash-001",
        w=8,
        inp=0.10,
        out=0.40,
        cr=0.025,
        cw=None,
        cache=0.2,
        reason=0.0,
        kind="chat",
        perma="google/gemini-2.0-flash-001",
        tok=1.03,
        ttft=450,
        tps=170,
        mm=True,
        audio=True,
        providers=[("Google Vertex", 50), ("Google AI Studio", 50)],
    ),
    dict(
        slug="google/gemini-flash-1.5",
        w=3,
        inp=0.075,
        out=0.30,
        cr=None,
        cw=None,
        cache=0.0,
        reason=0.0,
        kind="chat",
        perma="google/gemini-flash-1.5",
        tok=1.03,
        ttft=420,
        tps=160,
        mm=True,
        providers=[("Google Vertex", 60), ("Google AI Studio", 40)],
    ),
    dict(
        slug="meta-llama/llama-3.3-70b-instruct",
        w=5,
        inp=0.12,
        out=0.30,
        cr=None,
        cw=None,
        cache=0.0,
        reason=0.0,
        kind="chat",
        perma="meta-llama/llama-3.3-70b-instruct",
        tok=0.98,
        ttft=450,
        tps=60,
        mm=False,
        providers=[("DeepInfra", 35), ("Together", 25), ("Groq", 20), ("Fireworks", 10), ("Lambda", 10)],
    ),
    dict(
        slug="deepseek/deepseek-chat",
        w=6,
        inp=0.49,
        out=0.89,
        cr=None,
        cw=None,
        cache=0.0,
        reason=0.0,
        kind="chat",
        perma="deepseek/deepseek-chat-v3",
        tok=1.05,
        ttft=1500,
        tps=25,
        mm=False,
        providers=[("DeepSeek", 60), ("DeepInfra", 20), ("Fireworks", 10), ("Novita", 10)],
    ),
    dict(
        slug="deepseek/deepseek-r1",
        w=3,
        inp=0.70,
        out=2.50,
        cr=None,
        cw=None,
        cache=0.0,
        reason=1.0,
        kind="chat",
        perma="deepseek/deepseek-r1",
        tok=1.05,
        ttft=2500,
        tps=25,
        mm=False,
        providers=[("DeepInfra", 30), ("Together", 25), ("Fireworks", 20), ("Novita", 15), ("Nebius", 10)],
    ),
    dict(
        slug="mistralai/mistral-nemo",
        w=2,
        inp=0.035,
        out=0.08,
        cr=None,
        cw=None,
        cache=0.0,
        reason=0.0,
        kind="chat",
        perma="mistralai/mistral-nemo",
        tok=1.08,
        ttft=350,
        tps=100,
        mm=False,
        providers=[("Mistral", 40), ("DeepInfra", 40), ("Parasail", 20)],
    ),
    dict(
        slug="qwen/qwen-2.5-72b-instruct",
        w=2,
        inp=0.13,
        out=0.40,
        cr=None,
        cw=None,
        cache=0.0,
        reason=0.0,
        kind="chat",
        perma="qwen/qwen-2.5-72b-instruct",
        tok=1.04,
        ttft=500,
        tps=45,
        mm=False,
        providers=[("DeepInfra", 40), ("Together", 30), ("Novita", 15), ("Fireworks", 15)],
    ),
    dict(
        slug="openai/text-embedding-3-small",
        w=2,
        inp=0.02,
        out=0.0,
        cr=None,
        cw=None,
        cache=0.0,
        reason=0.0,
        kind="embed",
        perma="openai/text-embedding-3-small",
        tok=1.0,
        ttft=180,
        tps=1,
        mm=False,
        providers=[("OpenAI", 100)],
    ),
]

# Models the auto router resolves to (with weights).
_AUTO_TARGETS = [
    ("anthropic/claude-sonnet-4.5", 4),
    ("openai/gpt-5", 3),
    ("openai/gpt-5-mini", 4),
    ("google/gemini-2.5-flash", 4),
    ("google/gemini-2.5-pro", 2),
    ("x-ai/grok-4-fast", 1),
]

# Provider speed: (ttft factor, throughput factor, upstream id style)
_PROVIDERS = {
    "Anthropic": (1.0, 1.0, "anthropic"),
    "Amazon Bedrock": (1.15, 0.9, "bedrock"),
    "Google Vertex": (1.05, 1.0, "vertex"),
    "Google AI Studio": (1.0, 1.0, "gemini"),
    "OpenAI": (1.0, 1.0, "openai"),
    "Azure": (1.1, 1.05, "openai"),
    "Together": (1.0, 1.1, "together"),
    "Fireworks": (0.9, 1.3, "uuid"),
    "DeepInfra": (1.1, 0.9, "chatcmpl_hex"),
    "Groq": (0.5, 4.0, "chatcmpl_uuid"),
    "Cerebras": (0.4, 9.0, "chatcmpl_uuid"),
    "SambaNova": (0.6, 3.0, "uuid"),
    "Novita": (1.2, 0.9, "hex"),
    "Parasail": (1.0, 1.1, "chatcmpl_hex"),
    "Chutes": (1.6, 0.7, "hex"),
    "Lambda": (1.0, 1.0, "chatcmpl_hex"),
    "Nebius": (1.1, 1.0, "chatcmpl_hex"),
    "Mistral": (0.9, 1.0, "hex"),
    "xAI": (1.0, 1.0, "uuid"),
    "Moonshot AI": (1.3, 0.8, "chatcmpl_alnum"),
    "Z.AI": (1.4, 0.9, "zai"),
    "DeepSeek": (1.5, 0.8, "uuid"),
    "Cohere": (1.0, 1.0, "uuid"),
}
_BYOK_PROVIDERS = {
    "Anthropic",
    "OpenAI",
    "Azure",
    "Amazon Bedrock",
    "Google AI Studio",
    "Google Vertex",
    "xAI",
    "Mistral",
    "Groq",
    "DeepInfra",
    "Together",
}
_MODERATED = {"OpenAI", "Azure", "Anthropic"}

_BROWSER_UAS = [
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Safari/537.36"),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/141.0.0.0 Safari/537.36 Edg/141.0.0.0"
    ),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/26.0 Safari/605.1.15"),
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:143.0) Gecko/20100101 Firefox/143.0",
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Safari/537.36"),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/18.6 Mobile/15E148 Safari/604.1"
    ),
]
_SDK_UAS = [
    "OpenAI/Python 1.109.1",
    "OpenAI/Python 2.3.0",
    "OpenAI/JS 5.23.2",
    "AsyncOpenAI/Python 1.108.2",
    "ai-sdk/openai-compatible/1.0.19 ai-sdk/provider-utils/3.0.10 runtime/node.js/22",
    "@openrouter/ai-sdk-provider/1.2.0 ai-sdk/provider-utils/3.0.12 runtime/node.js/20",
    "langchain-openai/0.3.33 OpenAI/Python 1.108.0 (CPython 3.12.11; Linux x86_64)",
    "litellm/1.77.5 httpx/0.28.1 (CPython 3.11.13; Linux x86_64; aws-lambda)",
    "python-httpx/0.28.1",
    "axios/1.12.2",
    "Go-http-client/2.0",
    "curl/8.7.1",
]
_IDE_UAS = [
    "Cline/3.32.7 (vscode 1.104.2; darwin arm64) ai-sdk/provider-utils/3.0.10 runtime/node.js/22",
    "Kilo-Code/4.98.0 (vscode 1.105.0; win32 x64) OpenAI/JS 5.12.2 node/20.19.1",
    "RooCode/3.28.15 (vscode 1.104.3; linux x64) OpenAI/JS 5.12.2 node/22.15.1",
]

# Apps of the customer whose generations these are: (app_id, weight, origin, referer, UA pool,
# share of requests that send `external_user`, prompt-size lognormal mu, completion mu, agentic)
_APPS = [
    (2142351, 30, "https://app.northwind-assist.dev/", "https://app.northwind-assist.dev/chat", "browser", 0.9, 7.2, 5.6, False),
    (2142377, 16, "https://code.northwind-assist.dev/", "https://code.northwind-assist.dev/", "ide", 0.7, 9.6, 6.2, True),
    (2188410, 11, "", None, "sdk", 0.6, 7.8, 5.2, False),
    (2190055, 8, "https://support.lumenfield.io/", "https://support.lumenfield.io/widget", "browser", 0.95, 7.6, 5.4, False),
    (2201874, 6, "", None, "sdk", 0.0, 6.0, 4.0, False),
    (2214302, 5, "https://docs.lumenfield.io/", "https://docs.lumenfield.io/search?q=setup", "browser", 0.3, 8.2, 5.5, False),
    (2235019, 3, "https://labs.quarry-analytics.com/", "https://labs.quarry-analytics.com/notebooks", "sdk", 0.5, 8.5, 6.0, True),
    (2240788, 2, "https://openrouter.ai/", "https://openrouter.ai/chat", "browser", 0.0, 6.8, 5.8, False),
    (2251436, 2, "https://translate.kestrel.app/", "https://translate.kestrel.app/", "browser", 0.8, 6.5, 6.1, False),
    (2263390, 1, "", None, "ide", 0.4, 9.3, 6.0, True),
    (None, 16, "", None, "sdk", 0.2, 7.4, 5.5, False),
]

_FINISH = [("stop", 800), ("tool_calls", 110), ("length", 50), ("error", 6), ("content_filter", 3)]
_NATIVE_FINISH = {
    "anthropic": {
        "stop": "end_turn",
        "tool_calls": "tool_use",
        "length": "max_tokens",
        "error": "error",
        "content_filter": "refusal",
    },
    "openai": {
        "stop": "stop",
        "tool_calls": "tool_calls",
        "length": "length",
        "error": "error",
        "content_filter": "content_filter",
    },
    "google": {
        "stop": "STOP",
        "tool_calls": "STOP",
        "length": "MAX_TOKENS",
        "error": "MALFORMED_FUNCTION_CALL",
        "content_filter": "SAFETY",
    },
}
_FAIL_STATUS = [(429, 45), (503, 22), (502, 18), (500, 15)]
_WEB_ENGINES = [("exa", 65), ("parallel", 20), ("firecrawl", 15)]

_LEGACY_START = datetime(2025, 1, 1, tzinfo=UTC)
_US_REGION_SINCE = datetime(2026, 9, 1, tzinfo=UTC)  # data_region "us": late 2026
_API_TYPE = {"chat": "completions", "image": "completions", "embed": "embeddings", "rerank": "rerank"}


def _cum(weights):
    out, s = [], 0.0
    for w in weights:
        s += w
        out.append(s)
    return out


class _Picker:
    """Weighted choice by bisect over cumulative weights (one rng.random() per pick)."""

    __slots__ = ("cum", "items", "total")

    def __init__(self, pairs):
        self.items = [p[0] for p in pairs]
        self.cum = _cum([p[1] for p in pairs])
        self.total = self.cum[-1]

    def __call__(self, r):
        return self.items[bisect(self.cum, r() * self.total)]


def _uuid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


# byte -> alphanumeric character (b % 62), for fast random ids via bytes.translate
_ALNUM_TABLE = (_ALNUM * 5)[:256].encode("ascii")


def _alnum(rng: random.Random, k: int) -> str:
    return rng.randbytes(k).translate(_ALNUM_TABLE).decode("ascii")


def _hex(rng: random.Random, k: int) -> str:
    return f"{rng.getrandbits(4 * k):0{k}x}"


def _upstream_id(rng: random.Random, style: str, model_kind: str, dt: datetime) -> str:
    if style == "anthropic":
        return "msg_01" + _alnum(rng, 22)
    if style == "bedrock":
        return "msg_bdrk_01" + _alnum(rng, 22)
    if style == "vertex":
        return "msg_vrtx_01" + _alnum(rng, 22) if model_kind == "anthropic" else _alnum(rng, 23)
    if style == "gemini":
        return _alnum(rng, 23)
    if style == "openai":
        if rng.random() < 0.45:
            return "resp_" + _hex(rng, 50)
        return "chatcmpl-" + _alnum(rng, 29)
    if style == "together":
        return f"{_alnum(rng, 7)}-{_alnum(rng, 6)}-{_hex(rng, 16)}"
    if style == "uuid":
        return _uuid(rng)
    if style == "chatcmpl_uuid":
        return "chatcmpl-" + _uuid(rng)
    if style == "chatcmpl_hex":
        return "chatcmpl-" + _hex(rng, 32)
    if style == "chatcmpl_alnum":
        return "chatcmpl-" + _alnum(rng, 24)
    if style == "zai":
        return dt.strftime("%Y%m%d%H%M%S") + _hex(rng, 18)
    return _hex(rng, 32)


def _fmt_2026(dt: datetime) -> str:
    return (
        f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}T{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d}.{dt.microsecond // 1000:03d}Z"
    )


def _fmt_2025(dt: datetime) -> str:
    return dt.isoformat(timespec="microseconds")


def _money(x: float):
    """Round to 1e-10 USD; an exact zero is written as the bare integer 0."""
    v = round(x, 10)
    return 0 if v == 0 else v


class _Generator:
    """Builds one record at a time from a shared rng; keeps only small bounded state."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        catalog_rng = random.Random("orusage-synth-catalog")  # stable endpoint ids / workspaces
        self.catalogs = {}
        for era, models in (("2025", _MODELS_2025), ("2026", _MODELS_2026)):
            prepared = []
            for m in models:
                m = dict(m)
                m.setdefault("audio", False)
                m.setdefault("img", 0.0)
                m.setdefault("per_request", 0.0)
                m["family"] = (
                    "anthropic"
                    if m["slug"].startswith("anthropic/")
                    else "google"
                    if m["slug"].startswith("google/")
                    else "openai"
                )
                m["endpoints"] = {p: _uuid(catalog_rng) for p, _ in m["providers"]}
                m["pick_provider"] = _Picker(m["providers"])
                m["byok_providers"] = [p for p, _ in m["providers"] if p in _BYOK_PROVIDERS]
                prepared.append(m)
            by_slug = {m["slug"]: m for m in prepared}
            self.catalogs[era] = (_Picker([(m, m["w"]) for m in prepared]), by_slug)
        self.auto_pick = _Picker(_AUTO_TARGETS)
        self.app_pick = _Picker([(a, a[1]) for a in _APPS])
        self.finish_pick = _Picker(_FINISH)
        self.fail_pick = _Picker(_FAIL_STATUS)
        self.web_pick = _Picker(_WEB_ENGINES)
        self.ua_pools = {"browser": _BROWSER_UAS, "sdk": _SDK_UAS, "ide": _IDE_UAS}
        self.workspaces = [_uuid(catalog_rng) for _ in range(4)]
        self.app_workspace = {a[0]: self.workspaces[i % 3] for i, a in enumerate(_APPS)}
        self.app_workspace[None] = self.workspaces[3]
        self.presets = [_uuid(catalog_rng) for _ in range(5)]
        self.recent: list[tuple] = []  # ring of recent (id, model, provider, app, streamed, family)
        self.recent_pos = 0
        self.sessions: dict[tuple, str] = {}
        self.last_request: tuple[str, int] | None = None

    # -- one record ---------------------------------------------------------------------------
    def make(self, us: int) -> dict:
        rng = self.rng
        r = rng.random
        dt = _EPOCH + timedelta(microseconds=us)
        unix = us // 1_000_000
        ym = (dt.year, dt.month)
        era = "2025" if dt.year < 2026 else "2026"
        created = _fmt_2025(dt) if era == "2025" else _fmt_2026(dt)
        gid = f"gen-{unix}-{_alnum(rng, 20)}"

        if era == "2026" and len(self.recent) >= 20 and r() < 0.02:
            rec = self._cache_hit(gid, created, dt, unix)
        else:
            rec = self._generation(gid, created, dt, unix, era)
        if ym < (2026, 8):
            for key, since in SINCE.items():
                if ym < since:
                    rec.pop(key, None)
        return rec

    def _context(self, dt, unix, app):
        """Caller-side fields: user, session, request id, UA, referer, workspace, preset."""
        rng = self.rng
        r = rng.random
        app_id, _w, origin, referer, ua_kind, user_share = app[:6]
        external_user = None
        user_n = None
        if r() < user_share:
            user_n = 1 + int(1500 * r() ** 3)
            external_user = f"user-{user_n}"
        session_id = None
        if user_n is not None and r() < 0.6:
            key = (app_id, user_n, dt.toordinal(), dt.hour // 6)
            session_id = self.sessions.get(key)
            if session_id is None:
                if len(self.sessions) > 50_000:
                    self.sessions.clear()
                session_id = "sess_" + _alnum(rng, 24)
                self.sessions[key] = session_id
        # request id: usually new; sometimes several generations of one request (tool loops)
        if self.last_request and unix - self.last_request[1] < 90 and r() < 0.04:
            request_id = self.last_request[0]
        elif r() < 0.01:
            request_id = None
        else:
            request_id = f"req-{unix}-{_alnum(rng, 20)}"
            self.last_request = (request_id, unix)
        pool = self.ua_pools[ua_kind]
        user_agent = pool[int(len(pool) * r() ** 1.5)]
        if r() < 0.01:
            user_agent = None
        http_referer = referer if referer is None or r() < 0.97 else None
        if referer is None and r() < 0.05:
            http_referer = "https://localhost:3000/"
        workspace_id = None if r() < 0.04 else self.app_workspace[app_id]
        preset_id = self.presets[int(5 * r() ** 2)] if r() < 0.06 else None
        return (app_id, origin, external_user, session_id, request_id, user_agent, http_referer, workspace_id, preset_id)

    def _data_region(self, dt):
        x = self.rng.random()
        if x < 0.84:
            return "global"
        if x < 0.97 or dt < _US_REGION_SINCE:
            return "europe"
        return "us"

    def _remember(self, entry):
        if len(self.recent) < 256:
            self.recent.append(entry)
        else:
            self.recent[self.recent_pos] = entry
            self.recent_pos = (self.recent_pos + 1) % 256

    def _cache_hit(self, gid, created, dt, unix):
        rng = self.rng
        r = rng.random
        src_id, model, provider, app, streamed, family = self.recent[int(r() * len(self.recent))]
        (app_id, origin, external_user, session_id, request_id, user_agent, http_referer, workspace_id, preset_id) = (
            self._context(dt, unix, app)
        )
        gen_time = int(rng.lognormvariate(3.6, 0.5)) + 5
        latency = max(1, int(gen_time * (0.3 + 0.6 * r())))
        zero = 0 if r() < 0.5 else None
        if r() < 0.3:
            provider = None  # answered by OpenRouter's cache, no provider named
        return {
            "id": gid,
            "upstream_id": None,
            "total_cost": 0,
            "cache_discount": None,
            "upstream_inference_cost": None,
            "created_at": created,
            "model": model,
            "app_id": app_id,
            "streamed": streamed,
            "cancelled": False,
            "provider_name": provider,
            "latency": latency,
            "moderation_latency": None,
            "generation_time": gen_time,
            "finish_reason": "stop",
            "tokens_prompt": 0,
            "tokens_completion": 0,
            "native_tokens_prompt": 0,
            "native_tokens_completion": 0,
            "native_tokens_completion_images": zero,
            "native_tokens_reasoning": zero,
            "native_tokens_cached": zero,
            "num_media_prompt": None,
            "num_input_audio_prompt": None,
            "num_media_completion": None,
            "num_search_results": None,
            "num_fetches": None,
            "origin": origin,
            "usage": 0,
            "is_byok": False,
            "native_finish_reason": _NATIVE_FINISH[family]["stop"],
            "external_user": external_user,
            "api_type": "completions",
            "router": None,
            "provider_responses": None,
            "user_agent": user_agent,
            "http_referer": http_referer,
            "request_id": request_id,
            "session_id": session_id,
            "response_cache_source_id": src_id,
            "service_tier": None,
            "web_search_engine": None,
            "preset_id": preset_id,
            "data_region": self._data_region(dt),
            "workspace_id": workspace_id,
        }

    def _generation(self, gid, created, dt, unix, era):
        rng = self.rng
        r = rng.random
        gauss = rng.gauss

        def lnv(mu, sigma, _exp=math.exp):  # lognormal draw (gauss is faster than normalvariate)
            return _exp(mu + sigma * gauss())

        model_pick, by_slug = self.catalogs[era]
        app = self.app_pick(r)
        (app_id, origin, external_user, session_id, request_id, user_agent, http_referer, workspace_id, preset_id) = (
            self._context(dt, unix, app)
        )
        prompt_mu, completion_mu, agentic = app[6], app[7], app[8]

        router = None
        if era == "2026" and r() < 0.03:
            router = "openrouter/auto"
            m = by_slug[self.auto_pick(r)]
        else:
            m = model_pick(r)
        kind = m["kind"]
        family = m["family"]

        is_byok = bool(m["byok_providers"]) and r() < 0.05
        provider = m["byok_providers"][int(r() * len(m["byok_providers"]))] if is_byok else m["pick_provider"](r)
        ttft_f, tps_f, id_style = _PROVIDERS[provider]

        # ---- tokens
        num_media_prompt = num_audio = num_media_completion = None
        images_out = 0
        if kind == "chat" or kind == "image":
            prompt = int(lnv(prompt_mu, 1.1)) + 12
            if agentic and r() < 0.3:
                prompt += int(lnv(10.3, 0.5))
            prompt = min(prompt, 400_000)
            completion = int(lnv(completion_mu, 1.0)) + 1
            if m["mm"] and r() < 0.06:
                num_media_prompt = 1 + int(3 * r() ** 2)
                prompt += num_media_prompt * (1100 + int(600 * r()))
            elif r() < 0.5:
                num_media_prompt = 0
            if m["audio"] and r() < 0.015:
                num_audio = 1
                prompt += 800 + int(6000 * r())
            elif r() < 0.5:
                num_audio = 0
            if kind == "image":
                images_out = 1 if r() < 0.8 else 2
                num_media_completion = images_out
                completion = 12 + int(120 * r())
        elif kind == "embed":
            prompt = int(lnv(5.5, 1.2)) + 2
            completion = 0
        else:  # rerank
            prompt = int(lnv(7.5, 0.6)) + 20
            completion = 0
        if num_media_completion is None and r() < 0.4:
            num_media_completion = 0

        finish = None
        if kind in ("chat", "image"):
            finish = self.finish_pick(r)
            if finish == "length":
                completion = (512, 1024, 2048, 4096, 8192)[int(5 * r())]
            elif finish == "tool_calls":
                completion = min(completion, 40 + int(lnv(5.0, 0.6)))
            elif finish in ("error", "content_filter"):
                completion = int(completion * r() * 0.3)
        reasoning = None
        if kind in ("chat", "image"):
            if r() < m["reason"]:
                reasoning = int(lnv(6.3, 1.0))
                completion += reasoning
            elif r() < 0.6:
                reasoning = 0
        img_tokens = 1290 * images_out
        completion += img_tokens

        streamed = (r() < 0.88) if kind in ("chat", "image") else (None if kind == "rerank" else False)
        cancelled = False if kind in ("chat", "image") or r() < 0.5 else None
        if streamed and r() < 0.025:
            cancelled = True
            finish = None
            cut = 0.05 + 0.75 * r()
            completion = int(completion * cut)
            if reasoning:
                reasoning = min(reasoning, completion)
            img_tokens = 0
            images_out = 0
            if num_media_completion:
                num_media_completion = 0
        native_finish = None if finish is None else _NATIVE_FINISH[family][finish]

        # ---- cache
        cached = None
        written = 0
        if m["cr"] is not None:
            if prompt > 1024 and r() < m["cache"]:
                cached = int(prompt * (0.3 + 0.68 * r()))
            elif m["cw"] is not None and prompt > 1024 and r() < 0.25:
                cached = 0
                written = int(prompt * (0.4 + 0.55 * r()))
            else:
                cached = 0 if r() < 0.7 else None

        # ---- web search
        web = None
        n_results = n_fetches = None
        if kind == "chat" and r() < 0.03:
            web = self.web_pick(r)
            n_results = 3 + int(8 * r() ** 2)
            n_fetches = 1 + int(4 * r()) if web == "firecrawl" else 0
            prompt += n_results * (250 + int(400 * r()))
        else:
            if r() < 0.3:
                n_results = 0
            if r() < 0.3:
                n_fetches = 0

        # ---- cost
        inp = m["inp"] * 1e-6
        out = m["out"] * 1e-6
        discount = None
        if cached is not None:
            discount = cached * (inp - m["cr"] * 1e-6)
            if written:
                discount -= written * (m["cw"] - m["inp"]) * 1e-6
        text_completion = completion - img_tokens
        cost = prompt * inp + text_completion * out + img_tokens * m["img"] * 1e-6 - (discount or 0.0)
        cost += m["per_request"]
        if web:
            cost += 0.004 * n_results + 0.001 * (n_fetches or 0)
        if is_byok:
            total = 0.0 if r() < 0.6 else cost * 0.05
            upstream_cost = cost
            if r() < 0.01:
                upstream_cost = -cost  # refund
                total = 0.0
        else:
            total = cost
            x = r()
            upstream_cost = None if x < 0.8 else (0 if x < 0.9 else cost)
        total = _money(total)
        if upstream_cost is not None:
            upstream_cost = _money(upstream_cost)
        if discount is not None:
            discount = _money(discount)

        # ---- normalized tokens
        ratio = m["tok"]
        tokens_prompt = max(0, int(prompt / ratio * (0.98 + 0.04 * r())))
        tokens_completion = max(0, int(completion / ratio * (0.97 + 0.06 * r())))
        if kind == "embed" and r() < 0.5:
            tokens_completion = None
        elif kind == "rerank":  # billed per search, no token counts
            tokens_prompt = tokens_completion = prompt = completion = None

        # ---- timing
        ttft = int(m["ttft"] * ttft_f * lnv(0.0, 0.45) + (prompt or 0) * 0.004) + 20
        if reasoning:
            ttft += int(reasoning / (m["tps"] * tps_f) * 1000 * (0.6 + 0.4 * r()))
        if kind in ("chat", "image"):
            speed = max(5.0, m["tps"] * tps_f * lnv(0.0, 0.3))
            gen_time = ttft + int((completion - (reasoning or 0)) / speed * 1000)
        else:
            gen_time = ttft + int(30 * r())
        if finish == "error":
            gen_time = ttft + int(gen_time * 0.2 * r())
        latency = ttft
        if finish == "error" and r() < 0.3:  # the provider stream broke: no timings reported
            latency = gen_time = None
        moderation = int(lnv(4.6, 0.5)) if provider in _MODERATED and not is_byok and r() < 0.4 else None

        # ---- service tier
        service_tier = None
        routed_tier = None
        if provider in ("OpenAI", "Azure"):
            x = r()
            service_tier = "default" if x < 0.8 else "priority" if x < 0.87 else "flex" if x < 0.92 else None
            if service_tier in ("priority", "flex"):
                routed_tier = service_tier
        elif provider == "Anthropic":
            service_tier = "standard" if r() < 0.9 else None
        elif provider == "Groq":
            service_tier = "on_demand" if r() < 0.7 else None

        upstream_id = None if r() < 0.02 else _upstream_id(rng, id_style, family, dt)

        # ---- provider attempts
        attempts = []
        if r() < 0.08:
            n_fail = 1 if r() < 0.7 else (2 if r() < 0.85 else 3)
            providers = [p for p, _ in m["providers"]]
            for _ in range(n_fail):
                status = self.fail_pick(r)
                p = providers[int(r() * len(providers))]
                a_lat = int(lnv(4.5, 0.8)) + 5 if status == 429 else int(lnv(6.8, 1.0)) + 30
                att = {}
                if status != 429 and r() < 0.5:
                    att["id"] = _upstream_id(rng, _PROVIDERS[p][2], family, dt)
                elif r() < 0.3:
                    att["id"] = None
                att.update(
                    {
                        "endpoint_id": m["endpoints"][p],
                        "model_permaslug": m["perma"],
                        "provider_name": p,
                        "status": status,
                        "latency": a_lat,
                        "is_byok": False,
                        "routed_service_tier": None,
                    }
                )
                attempts.append(att)
        attempts.append(
            {
                "id": upstream_id,
                "endpoint_id": m["endpoints"][provider],
                "model_permaslug": m["perma"],
                "provider_name": provider,
                "status": 200,
                "latency": latency,
                "is_byok": is_byok,
                "routed_service_tier": routed_tier,
            }
        )

        api_type = _API_TYPE[kind]
        if r() < (0.4 if era == "2025" else 0.01):
            api_type = None
        if reasoning is None and kind in ("chat", "image") and r() < 0.5:
            reasoning = 0
        images_field = img_tokens if kind == "image" else (0 if r() < 0.6 else None)

        rec = {
            "id": gid,
            "upstream_id": upstream_id,
            "total_cost": total,
            "cache_discount": discount,
            "upstream_inference_cost": upstream_cost,
            "created_at": created,
            "model": m["slug"],
            "app_id": app_id,
            "streamed": streamed,
            "cancelled": cancelled,
            "provider_name": provider,
            "latency": latency,
            "moderation_latency": moderation,
            "generation_time": gen_time,
            "finish_reason": finish,
            "tokens_prompt": tokens_prompt,
            "tokens_completion": tokens_completion,
            "native_tokens_prompt": prompt,
            "native_tokens_completion": completion,
            "native_tokens_completion_images": images_field,
            "native_tokens_reasoning": reasoning,
            "native_tokens_cached": cached,
            "num_media_prompt": num_media_prompt,
            "num_input_audio_prompt": num_audio,
            "num_media_completion": num_media_completion,
            "num_search_results": n_results,
            "num_fetches": n_fetches,
            "origin": origin,
            "usage": total,
            "is_byok": is_byok,
            "native_finish_reason": native_finish,
            "external_user": external_user,
            "api_type": api_type,
            "router": router,
            "provider_responses": attempts,
            "user_agent": user_agent,
            "http_referer": http_referer,
            "request_id": request_id,
            "session_id": session_id,
            "response_cache_source_id": None,
            "service_tier": service_tier,
            "web_search_engine": web,
            "preset_id": preset_id,
            "data_region": self._data_region(dt),
            "workspace_id": workspace_id,
        }
        if kind in ("chat", "image") and not is_byok and era == "2026":
            self._remember((gid, m["slug"], provider, app, streamed, family))
        return rec


def _to_us(dt: datetime) -> int:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return (dt - _EPOCH) // timedelta(microseconds=1)


def _hour_counts(rng: random.Random, n: int, start: datetime, days: int) -> list[int]:
    """Records per hour: weekday x hour-of-day x daily noise x slow growth, summing to n."""
    hours = days * 24
    day_noise = [rng.lognormvariate(0.0, 0.12) for _ in range(days)]
    weights = []
    for i in range(hours):
        t = start + timedelta(hours=i)
        w = _WEEKDAY[t.weekday()] * _HOUR[t.hour] * day_noise[i // 24] * (1.0 + 0.006 * (i // 24))
        weights.append(w * rng.lognormvariate(0.0, 0.08))
    total = sum(weights)
    exact = [n * w / total for w in weights]
    counts = [int(e) for e in exact]
    rest = n - sum(counts)
    order = sorted(range(hours), key=lambda i: (counts[i] - exact[i], i))
    for i in order[:rest]:
        counts[i] += 1
    return counts


def iter_records(n: int, seed: int = 7, start: datetime = DEFAULT_START, days: int = 45) -> Iterator[dict]:
    """Yield n records with `created_at` spread over `days` days from `start`, in increasing order.

    Records from 2026 on have every key of the field table; older ones lack the keys that arrived
    later (see SINCE) and use the 2025 timestamp form."""
    if n < 0 or days < 1:
        raise ValueError("n must be >= 0 and days >= 1")
    rng = random.Random(seed)
    gen = _Generator(rng)
    counts = _hour_counts(rng, n, start, days)
    base = _to_us(start)
    hour_us = 3_600_000_000
    for i, k in enumerate(counts):
        if not k:
            continue
        h0 = base + i * hour_us
        legacy = (_EPOCH + timedelta(microseconds=h0)).year < 2026
        if legacy:
            offsets = sorted(rng.sample(range(hour_us), k))
        else:
            h0 -= h0 % 1000
            offsets = [o * 1000 for o in sorted(rng.sample(range(3_600_000), k))]
        for off in offsets:
            yield gen.make(h0 + off)


# ---------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------

_dumps_compact = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode
_dumps_spaced = json.JSONEncoder(check_circular=False).encode

SAMPLE_FILES = (
    "generations-2026-09.jsonl",
    "generations-2026-10.jsonl.gz",
    "export-envelope.ndjson",
    "legacy-2025.jsonl",
    "bad-lines.jsonl",
)


def _write_bytes(path: Path, data: bytes) -> None:
    path.write_bytes(data)


def _write_gzip(path: Path, data: bytes) -> None:
    # mtime=0 and no file name in the header: the same input gives the same bytes.
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz:
        gz.write(data)


def _bad_lines(seed: int) -> tuple[list[str], list[tuple[int, str, str]]]:
    """Lines of bad-lines.jsonl and a (line number, what, expected outcome) table."""
    pool = list(iter_records(80, seed=seed + 2000, start=datetime(2026, 10, 16, tzinfo=UTC), days=1))
    pool = [p for p in pool if p["provider_responses"]]  # served generations (not cache hits)
    it = iter(pool)

    def rec():
        return json.loads(_dumps_compact(next(it)))  # a fresh deep copy

    rows: list[tuple[str, str, str]] = []  # (line, what, expected)

    def valid(what, r=None, line=None):
        rows.append((line or _dumps_compact(r or rec()), what, "valid: kept"))

    def bad(what, line):
        rows.append((line, what, "invalid: rejected"))

    def bad_rec(what, mutate):
        r = rec()
        mutate(r)
        bad(what, _dumps_compact(r))

    def setv(key, value):
        return lambda r: r.__setitem__(key, value)

    v1 = rec()
    v1_line = _dumps_compact(v1)
    valid("a normal current-shape record", line=v1_line)
    bad("malformed JSON: the line is cut off mid-object", _dumps_compact(rec())[:180])
    valid('a normal record in the API envelope {"data": {...}}', line=_dumps_compact({"data": rec()}))
    bad("a JSON array instead of an object", _dumps_compact([rec()]))
    bad_rec('total_cost is the string "0.5"', lambda r: r.update(total_cost="0.5", usage=0.5))
    bad_rec('is_byok is the string "true"', setv("is_byok", "true"))
    r_beta = rec()
    r_beta["beta_feature"] = {"enabled": True, "variant": "b"}
    valid("unknown top-level key `beta_feature` (kept; goes to _extra)", r_beta)
    bad_rec("app_id is 12.5 (not an integer)", setv("app_id", 12.5))
    bad_rec("tokens_prompt is -3 (negative count)", setv("tokens_prompt", -3))
    bad_rec("id is the empty string", setv("id", ""))
    bad_rec("the required key `model` is missing", lambda r: r.pop("model"))
    r_mars = rec()
    r_mars["data_region"] = "mars"
    valid('data_region "mars": unknown value of an open enum (kept, counted as a warning)', r_mars)
    bad_rec('created_at is "yesterday"', setv("created_at", "yesterday"))
    bad_rec('latency is the string "1250"', setv("latency", "1250"))
    bad_rec("provider_responses is an object, not a list", lambda r: r.update(provider_responses=r["provider_responses"][-1]))

    def status_str(r):
        r["provider_responses"][-1]["status"] = "200"

    bad_rec('a provider_responses element has status "200" (string)', status_str)
    rows.append((v1_line, "exact duplicate of line 1 (same id, same content)", "duplicate: identical to line 1, one copy kept"))
    nan = rec()
    nan_line = _dumps_compact(nan).replace(f'"total_cost":{_dumps_compact(nan["total_cost"])}', '"total_cost":NaN', 1)
    assert "NaN" in nan_line
    bad("total_cost is the literal NaN (not JSON; non-finite)", nan_line)
    r_conf = json.loads(v1_line)
    r_conf["total_cost"] = r_conf["usage"] = round(float(v1["total_cost"]) + 0.0125, 10)
    rows.append(
        (
            _dumps_compact(r_conf),
            "conflicting duplicate of line 1: same id, different total_cost/usage (each line valid on its own)",
            "conflict: flagged, not merged",
        )
    )
    bad_rec("usage is negative (-0.001)", lambda r: r.update(usage=-0.001))
    r_z = rec()
    r_z["created_at"] = r_z["created_at"].replace("Z", "")
    valid("created_at without an offset (UTC by the field table)", r_z)
    bad_rec("created_at is a number (unix seconds), not a string", setv("created_at", 1791234567))
    bad_rec("id is null (not nullable)", setv("id", None))
    bad_rec("native_tokens_completion is true (a boolean, not an integer)", setv("native_tokens_completion", True))
    r_abs = rec()
    for k in ("workspace_id", "session_id", "request_id", "response_cache_source_id"):
        r_abs.pop(k)
    valid("optional keys absent (workspace_id, session_id, request_id, response_cache_source_id)", r_abs)
    bad_rec("streamed is 1 (an integer, not a boolean)", setv("streamed", 1))
    bad_rec("origin is null (not nullable)", setv("origin", None))
    bad_rec("generation_time is negative (-5)", setv("generation_time", -5))
    inf = rec()
    inf_line = _dumps_compact(inf).replace(f'"latency":{inf["latency"]},', '"latency":Infinity,', 1)
    assert "Infinity" in inf_line
    bad("latency is the literal Infinity (not JSON; non-finite)", inf_line)
    bad("the line is the JSON literal null, not an object", "null")
    bad_rec("a provider_responses element is a string, not an object", lambda r: r.update(provider_responses=["Anthropic"]))
    bad_rec("created_at is an impossible date 2026-02-30", setv("created_at", "2026-02-30T10:00:00.000Z"))
    bad_rec("the required key `is_byok` is missing", lambda r: r.pop("is_byok"))
    r_byok = rec()
    r_byok.update(upstream_inference_cost=r_byok["total_cost"], total_cost=0, usage=0, is_byok=True, moderation_latency=None)
    r_byok["provider_responses"][-1]["is_byok"] = True
    valid("a BYOK record whose total_cost/usage are the bare integer 0", r_byok)
    r_off = rec()
    r_off["created_at"] = r_off["created_at"][:-1] + "+00:00"
    valid("created_at with a +00:00 offset", r_off)
    legacy = next(iter_records(1, seed=seed + 3000, start=datetime(2025, 3, 3, 14, tzinfo=UTC), days=1))
    valid("an older-shape 2025 record (no router, provider_responses, ... keys; 2025 timestamp form)", legacy)
    lines = [line for line, _, _ in rows]
    table = [(i + 1, what, expected) for i, (_, what, expected) in enumerate(rows)]
    return lines, table


_README = """# Sample of OpenRouter generation records (synthetic)

Generated by `python -m tools.synth sample OUT_DIR` (`tools/synth.py`, seed {seed}); deterministic:
the same seed gives the same bytes. Every record is synthetic but follows the shape and the invariants of real OpenRouter
generation records (`schemas/generation.toml`, `/api/v1/generation`). JSON lines files cannot hold
comments, so this file describes them.

| file | records | what it is |
|---|---:|---|
| `generations-2026-09.jsonl` | {n_sep} | September 2026, bare records, compact JSON, LF line endings. |
| `generations-2026-10.jsonl.gz` | {n_oct} | 1-10 October 2026, gzip; {n_oct_env} of the lines are in the API envelope `{{"data": {{...}}}}`, the rest bare. |
| `export-envelope.ndjson` | {n_exp} | 11-15 October 2026, every line enveloped, `", "`/`": "` separators, CRLF line endings, a UTF-8 BOM, {n_blank} blank lines in the middle, no newline after the last line. |
| `legacy-2025.jsonl` | {n_leg} | January-May 2025 records of the older shape: no `router`, `provider_responses`, `http_referer`, `user_agent`, `request_id`, `session_id`, `service_tier`, `data_region`, `workspace_id` keys, 2025 timestamps `2025-01-25T21:58:42.249238+00:00`, 2025 model slugs. |
| `bad-lines.jsonl` | {n_bad} lines | {n_invalid} lines a strict validator must reject (each wrong in a different way), {n_valid} valid ones, an exact duplicate and a conflicting duplicate of line 1 (table below). |

All records from 2026 carry every key of the field table (nullable ones sometimes null), ids are
`gen-<unix seconds>-<20 alphanumerics>` and unique across the files (the deliberate duplicates in
`bad-lines.jsonl` aside), and `created_at` increases within each of the other four files.
`response_cache_source_id` of a response-cache hit may point at a generation in another file.

Invariants that hold in every valid record: `usage == total_cost`; `native_tokens_cached <=
native_tokens_prompt`; `native_tokens_reasoning <= native_tokens_completion`; `latency <=
generation_time` (both are null on some errored generations); `latency` equals the last `provider_responses` element's latency, whose status is
200 and whose `provider_name` is the record's; a cancelled stream has null finish reasons and is
still billed; a response-cache hit has zero cost and tokens and null `provider_responses` (and
sometimes a null `provider_name`); rerank requests have null token counts; under
BYOK `total_cost`/`usage` are 0 or a 5% fee and `upstream_inference_cost` is the provider cost
(negative on a refund). Cost: `total_cost = native_tokens_prompt * in + native_tokens_completion * out
- cache_discount` at the model's price per native token, plus 0.004 USD per web search result and
0.001 per fetch, image output tokens at the image price, and a flat 0.002 per rerank request.

## What `bad-lines.jsonl` contains, line by line

| line | content | expected |
|---:|---|---|
{bad_table}
"""  # noqa: E501 - markdown table rows are one line each; data/sample/README.md holds this text byte for byte


def write_sample(out_dir: Path, seed: int = 7) -> dict:
    """Write the bundled sample (about 4,000 records over 45 days + legacy + bad lines) to out_dir.

    Returns {file name: number of non-blank lines}."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    env_rng = random.Random(seed * 104729 + 3)

    sep, octa, octb = [], [], []
    oct_split = datetime(2026, 10, 11, tzinfo=UTC)
    for rec in iter_records(3600, seed=seed, start=DEFAULT_START, days=45):
        created = rec["created_at"]
        if created < "2026-10":
            sep.append(_dumps_compact(rec))
        elif created < oct_split.strftime("%Y-%m-%d"):
            if env_rng.random() < 0.25:
                octa.append(_dumps_compact({"data": rec}))
            else:
                octa.append(_dumps_compact(rec))
        else:
            octb.append(_dumps_spaced({"data": rec}))
    legacy = [_dumps_compact(r) for r in iter_records(320, seed=seed + 1000, start=_LEGACY_START, days=151)]
    bad, bad_table = _bad_lines(seed)

    _write_bytes(out_dir / SAMPLE_FILES[0], ("\n".join(sep) + "\n").encode())
    _write_gzip(out_dir / SAMPLE_FILES[1], ("\n".join(octa) + "\n").encode())
    exp_lines = list(octb)
    blanks = [len(exp_lines) // 3, 2 * len(exp_lines) // 3]
    for pos in reversed(blanks):
        exp_lines.insert(pos, "")
    _write_bytes(out_dir / SAMPLE_FILES[2], b"\xef\xbb\xbf" + "\r\n".join(exp_lines).encode())
    _write_bytes(out_dir / SAMPLE_FILES[3], ("\n".join(legacy) + "\n").encode())
    _write_bytes(out_dir / SAMPLE_FILES[4], ("\n".join(bad) + "\n").encode())

    counts = {
        SAMPLE_FILES[0]: len(sep),
        SAMPLE_FILES[1]: len(octa),
        SAMPLE_FILES[2]: len(octb),
        SAMPLE_FILES[3]: len(legacy),
        SAMPLE_FILES[4]: len(bad),
    }
    n_invalid = sum(1 for _, _, e in bad_table if e.startswith("invalid"))
    n_valid = sum(1 for _, _, e in bad_table if e.startswith("valid"))
    table = "\n".join(f"| {i} | {what.replace('|', '/')} | {exp} |" for i, what, exp in bad_table)
    readme = _README.format(
        seed=seed,
        n_sep=len(sep),
        n_oct=len(octa),
        n_oct_env=sum(1 for line in octa if line.startswith('{"data":')),
        n_exp=len(octb),
        n_blank=len(blanks),
        n_leg=len(legacy),
        n_bad=len(bad),
        n_invalid=n_invalid,
        n_valid=n_valid,
        bad_table=table,
    )
    (out_dir / "README.md").write_text(readme, encoding="utf-8", newline="\n")
    return counts


def write_bench(path: Path, n: int, seed: int = 11) -> None:
    """Write n current-shape records (about 1.5 KB each) as plain JSONL, streaming."""
    path = Path(path)
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    encode = _dumps_compact
    buf: list[str] = []
    with open(path, "w", encoding="utf-8", newline="\n", buffering=1 << 20) as fh:
        for rec in iter_records(n, seed=seed, start=DEFAULT_START, days=45):
            buf.append(encode(rec))
            if len(buf) >= 2000:
                buf.append("")
                fh.write("\n".join(buf))
                buf.clear()
        if buf:
            buf.append("")
            fh.write("\n".join(buf))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.synth", description="Generate synthetic OpenRouter generation records."
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_sample = sub.add_parser("sample", help="write the bundled sample files")
    p_sample.add_argument("out_dir", nargs="?", default="data/sample", type=Path)
    p_sample.add_argument("--seed", type=int, default=7)
    p_bench = sub.add_parser("bench", help="write N records as plain JSONL")
    p_bench.add_argument("n", type=int)
    p_bench.add_argument("out_file", type=Path)
    p_bench.add_argument("--seed", type=int, default=11)
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    if args.cmd == "sample":
        counts = write_sample(args.out_dir, seed=args.seed)
        for name, count in counts.items():
            print(f"{args.out_dir / name}: {count} lines")
        print(f"total: {sum(counts.values())} lines in {time.perf_counter() - t0:.1f}s")
    else:
        write_bench(args.out_file, args.n, seed=args.seed)
        size = args.out_file.stat().st_size
        print(
            f"{args.out_file}: {args.n} records, {size / 1e6:.1f} MB "
            f"({size / max(args.n, 1):.0f} B/record) in {time.perf_counter() - t0:.1f}s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

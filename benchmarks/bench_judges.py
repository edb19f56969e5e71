"""Benchmark: the LLM-judge runner against a fixed-latency loopback server, the cached rerun, tokens per judgment.

Three parts, each printed as a table:

1. **Throughput.**  ``tests/servers/latency_server.py`` runs in its own process (so the client keeps a core of its
   own) and answers every chat completion after ``--latency`` seconds with no work.  At each concurrency ``c`` the
   same requests go out two ways, side by side: a *baseline* loop of raw ``openai.AsyncOpenAI``
   ``chat.completions.create`` calls from ``c`` workers (nothing else), and the project's runner
   (``judges.llm.LLMJudge.judge_items``: planning, prompt rendering, cache lookups and writes to an SQLite file,
   parsing, the labels table).  Each run judges ``rounds x c`` items, so an ideal run lasts ``rounds x latency``
   seconds; ideal throughput is ``c / latency``.  Both run over each HTTP transport of the ``openai`` client, side
   by side: ``httpx`` (its default) and ``aiohttp`` (``DefaultAioHttpClient``, the ``openai[aiohttp]`` extra, when
   installed; the runner's ``--http-client``).  Reported: judgments/s, share of ideal, the most requests the
   server saw in flight at once, CPU ms per judgment of the client process, and the runner's overhead per
   judgment over the baseline (wall and CPU).
2. **Cached rerun.**  ``--cache-items`` items (default 100,000) whose responses are all in a ``JudgeCache`` file
   (filled directly with SQL, the items planned once), judged again: judgments/s of ``judge_items`` (the reruns
   after the first, which parses and stores the verdicts as a run that sends its requests does) and where the
   time goes.
3. **Tokens per judgment** of each built-in template in each verdict mode on the simulated study's items: prompt
   tokens counted by SmolLM2-135M-Instruct's own tokenizer (the GGUF the llama.cpp test server serves, loaded
   vocabulary-only through llama-cpp-python, with its chat template), else by the latency server's approximation
   (4 characters a token); completion tokens of the answer the verdict mode asks for.

    python benchmarks/bench_judges.py                 # 16, 64, 256 concurrent; 200 ms; 100,000 cached items
    python benchmarks/bench_judges.py --quick         # shorter runs, 20,000 cached items
    python benchmarks/bench_judges.py --smoke         # seconds: concurrency 4, 20 items, 10 ms (the tests run it)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from servers.latency_server import approx_prompt_tokens, approx_tokens, completion_body  # noqa: E402

from judges.cache import canonical_json  # noqa: E402
from judges.llm import LLMJudge, LLMJudgeConfig  # noqa: E402
from judges.templates import BUILTIN_TEMPLATES, VERDICT_MODES, load_template, render_messages  # noqa: E402

LATENCY_SERVER = REPO / "tests" / "servers" / "latency_server.py"
KEY_ENV = "AUDITOR_BENCH_KEY"


# -- the server -------------------------------------------------------------------------------------------------
class ServerProcess:
    """``latency_server.py`` in a child process; ``base_url`` once started, ``stats()`` / ``reset()`` over HTTP."""

    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.process: subprocess.Popen[str] | None = None
        self.base_url = ""

    def __enter__(self) -> ServerProcess:
        command = [sys.executable, str(LATENCY_SERVER), "--port", "0", "--latency", str(self.latency)]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        line = self.process.stdout.readline() if self.process.stdout else ""
        if not line.startswith("serving on "):
            self.process.kill()
            raise RuntimeError(f"the latency server did not start: {line!r}")
        self.base_url = line.split()[-1]
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)

    def _call(self, method: str, path: str) -> dict[str, int]:
        root = self.base_url.rsplit("/v1", 1)[0]
        request = urllib.request.Request(root + path, method=method, data=b"" if method == "POST" else None)
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def stats(self) -> dict[str, int]:
        return self._call("GET", "/_stats")

    def reset(self) -> None:
        self._call("POST", "/_reset")


# -- items ------------------------------------------------------------------------------------------------------
def bench_items(n: int, *, tag: str = "") -> pd.DataFrame:
    """``n`` pairwise items of realistic-but-small size (a 20-word request, 60-word responses, a 3-fact profile),
    all distinct (``tag`` makes the prompts of one run differ from another's, so no run meets a cached answer)."""
    words = (
        "plan week budget train run cook sleep travel read write save study garden family friends code music "
        "health work rest walk learn focus habit morning evening weekend goal list simple quick calm"
    ).split()
    rows = []
    for i in range(n):
        pick = [words[(i * 7 + k * 13) % len(words)] for k in range(60)]
        rows.append(
            {
                "item_id": f"item-{i:06d}",
                "user_id": f"user-{i % 50}",
                "prompt": f"Request {i}{tag}: how should I " + " ".join(pick[:18]) + "?",
                "response_a": "A general answer: " + " ".join(pick),
                "response_b": "A personal answer for a runner: " + " ".join(reversed(pick)),
                "profile": json.dumps(["likes running", "works nights", "has two children"]),
            }
        )
    return pd.DataFrame(rows)


def judge_config(base_url: str, concurrency: int, **overrides: Any) -> LLMJudgeConfig:
    options: dict[str, Any] = dict(
        model="latency",
        base_url=base_url,
        api_key_env=KEY_ENV,
        concurrency=concurrency,
        max_retries=2,
        timeout=60.0,
        progress=False,
    )
    options.update(overrides)
    return LLMJudgeConfig(**options)


# -- 1. throughput ----------------------------------------------------------------------------------------------
async def _baseline(base_url: str, bodies: list[dict[str, Any]], concurrency: int, transport: str) -> None:
    """Raw ``openai.AsyncOpenAI`` calls from ``concurrency`` workers over ``transport`` (``httpx``, the client's
    default, or ``aiohttp``, its ``DefaultAioHttpClient``): the floor any runner is measured against."""
    import openai

    http = openai.DefaultAioHttpClient() if transport == "aiohttp" else None
    client = openai.AsyncOpenAI(
        api_key="EMPTY", base_url=base_url, max_retries=2, timeout=60.0, http_client=http
    )
    pending = list(reversed(bodies))

    async def worker() -> None:
        while pending:
            body = pending.pop()
            await client.chat.completions.create(**body)

    try:
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    finally:
        await client.close()


def run_baseline(
    server: ServerProcess, items: pd.DataFrame, concurrency: int, transport: str = "httpx"
) -> dict[str, float]:
    planner = LLMJudge(judge_config(server.base_url, concurrency))
    bodies = [p.body for p in planner.plan(items, "pairwise")]
    planner.close()
    server.reset()
    wall, cpu = time.perf_counter(), time.process_time()
    asyncio.run(_baseline(server.base_url, bodies, concurrency, transport))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"wall": wall, "cpu": cpu, "max_in_flight": server.stats()["max_in_flight"], "n": len(bodies)}


def run_runner(
    server: ServerProcess, items: pd.DataFrame, concurrency: int, cache_path: Path, transport: str = "httpx"
) -> dict[str, float]:
    judge = LLMJudge(judge_config(server.base_url, concurrency, http_client=transport), cache=cache_path)
    server.reset()
    wall, cpu = time.perf_counter(), time.process_time()
    labels = judge.judge_items(items, "pairwise")
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    judge.close()
    done = int(labels["label"].notna().sum())
    if done != len(items) or judge.stats.get("sent") != len(items):
        raise RuntimeError(f"the runner labelled {done} of {len(items)} items ({judge.stats})")
    return {"wall": wall, "cpu": cpu, "max_in_flight": server.stats()["max_in_flight"], "n": len(labels)}


def transports() -> list[str]:
    """``httpx``, and ``aiohttp`` when the ``openai[aiohttp]`` extra is installed."""
    from judges.llm.config import aiohttp_installed

    return ["httpx", "aiohttp"] if aiohttp_installed() else ["httpx"]


def bench_throughput(
    latency: float, concurrencies: Sequence[int], rounds: int, repeats: int, workdir: Path
) -> list[dict[str, Any]]:
    """One row per concurrency and transport; every kind of run (baseline and runner over each transport) is
    repeated ``repeats`` times, interleaved, and the fastest of each kept."""
    rows = []
    os.environ.setdefault(KEY_ENV, "EMPTY")
    kinds = [(role, transport) for transport in transports() for role in ("baseline", "runner")]
    with ServerProcess(latency) as server:
        for transport in transports():  # warm up imports, the clients and the server
            run_baseline(server, bench_items(8, tag=f"-warm-{transport}"), 4, transport)
            run_runner(
                server, bench_items(8, tag=f"-warm2-{transport}"), 4, workdir / "warm.sqlite", transport
            )
        for concurrency in concurrencies:
            n = rounds * concurrency
            best: dict[tuple[str, str], dict[str, float]] = {}
            for repeat in range(repeats):
                for role, transport in kinds:
                    items = bench_items(n, tag=f"-c{concurrency}-r{repeat}-{role}-{transport}")
                    if role == "baseline":
                        result = run_baseline(server, items, concurrency, transport)
                    else:
                        cache = workdir / f"runner-{concurrency}-{repeat}-{transport}.sqlite"
                        result = run_runner(server, items, concurrency, cache, transport)
                    if (role, transport) not in best or result["wall"] < best[role, transport]["wall"]:
                        best[role, transport] = result
            ideal = concurrency / latency
            for transport in transports():
                base, run = best["baseline", transport], best["runner", transport]
                rows.append(
                    {
                        "concurrency": concurrency,
                        "transport": transport,
                        "judgments": n,
                        "ideal_per_s": ideal,
                        "baseline_per_s": n / base["wall"],
                        "baseline_share": n / base["wall"] / ideal,
                        "runner_per_s": n / run["wall"],
                        "runner_share": n / run["wall"] / ideal,
                        "runner_vs_baseline": base["wall"] / run["wall"],
                        "in_flight_baseline": base["max_in_flight"],
                        "in_flight_runner": run["max_in_flight"],
                        "baseline_cpu_ms": 1e3 * base["cpu"] / n,
                        "runner_cpu_ms": 1e3 * run["cpu"] / n,
                        "overhead_wall_ms": 1e3 * (run["wall"] - base["wall"]) / n,
                        "overhead_cpu_ms": 1e3 * (run["cpu"] - base["cpu"]) / n,
                    }
                )
    return rows


# -- 2. cached rerun --------------------------------------------------------------------------------------------
def fill_cache(judge: LLMJudge, items: pd.DataFrame, task: str) -> tuple[int, float]:
    """Store an answer for every request of ``items`` straight into the cache file; (rows, seconds)."""
    started = time.perf_counter()
    planned = [p for p in judge.plan(items, task) if not p.skip]
    rows = []
    for p in planned:
        request = canonical_json(p.body)
        response = completion_body(p.body, zlib.crc32(request.encode()), None)
        rows.append((p.key, request, canonical_json(response), 0.2, "api", 0.0))
    conn = judge.cache._conn
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT OR IGNORE INTO responses (key, request, response, latency_s, source, created) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        rows,
    )
    conn.execute("COMMIT")
    return len(rows), time.perf_counter() - started


def bench_cached(n: int, workdir: Path, repeats: int) -> dict[str, Any]:
    """A fully cached rerun of ``n`` pairwise items (logprob verdicts): rate and a breakdown by stage.

    The cache is filled by SQL (the responses) and by planning the items once (which stores each request's key
    under its plan key, as a run does); the first rerun then parses each response and stores its verdict (what a
    run that sends the requests does as they arrive), and is timed apart; the reruns after it are the figure.
    """
    items = bench_items(n, tag="-cached")
    path = workdir / "cached.sqlite"
    config = judge_config("http://127.0.0.1:9/v1", 64)  # nothing listens there: any request would fail
    judge = LLMJudge(config, cache=path)
    stored, fill_s = fill_cache(judge, items, "pairwise")
    judge.close()
    walls = []
    first_s = 0.0
    for number in range(repeats + 1):
        judge = LLMJudge(config, cache=path)  # a new process would open the file afresh, so do we
        started = time.perf_counter()
        labels = judge.judge_items(items, "pairwise")
        wall = time.perf_counter() - started
        stats = dict(judge.stats)
        judge.close()
        if stats.get("sent") or int(labels["label"].notna().sum()) != n:
            raise RuntimeError(f"the cached rerun was not fully cached: {stats}")
        if number == 0:
            first_s = wall
        else:
            walls.append(wall)
    # where the time goes (one more pass, stage by stage)
    judge = LLMJudge(config, cache=path)
    template = judge.template_for("pairwise")
    parser = judge._parser_key(template)
    stage: dict[str, float] = {}
    t = time.perf_counter()
    planned, _, parsed = judge._plan(items, "pairwise", lazy=True, parser=parser)
    stage["plan: hash each row into its plan keys; one SELECT for request key + parsed verdict"] = (
        time.perf_counter() - t
    )
    if len(parsed) != n or any(p.body is not None for p in planned):
        raise RuntimeError("the stage-by-stage pass did not take the fast path")
    t = time.perf_counter()
    judge._labels(planned, parsed, {}, {}, template, "pairwise", parser)
    stage["rows (order mapping, cost) and labels table"] = time.perf_counter() - t
    judge.close()
    best = min(walls)
    return {
        "items": n,
        "stored": stored,
        "fill_s": fill_s,
        "first_s": first_s,
        "wall_s": best,
        "per_s": n / best,
        "file_mb": path.stat().st_size / 1e6,
        "stages": stage,
    }


# -- 3. tokens --------------------------------------------------------------------------------------------------
class Tokenizer:
    """SmolLM2-135M-Instruct's tokenizer and chat template (vocabulary-only load), or the 4-characters rule."""

    def __init__(self, real: bool = True) -> None:
        self.name = "approximation: ceil(chars / 4) a message + 4 a message + 3 (latency server)"
        self._llama: Any = None
        if not real:
            return
        try:
            from servers.llama_server import find_smollm2_gguf

            gguf = find_smollm2_gguf()
            if gguf is None:
                return
            import llama_cpp
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            self._llama = llama_cpp.Llama(str(gguf), vocab_only=True, verbose=False)
            meta = self._llama.metadata
            vocab = self._llama._model
            self._format = Jinja2ChatFormatter(
                template=meta["tokenizer.chat_template"],
                eos_token=vocab.token_get_text(vocab.token_eos()),
                bos_token=vocab.token_get_text(vocab.token_bos()),
            )
            self.name = f"SmolLM2-135M-Instruct tokenizer + chat template ({gguf.name}, llama-cpp-python)"
        except Exception as exc:  # noqa: BLE001 - fall back to the approximation, say so
            print(f"(SmolLM2 tokenizer unavailable: {type(exc).__name__}: {exc}; using the approximation)")
            self._llama = None

    @property
    def real(self) -> bool:
        return self._llama is not None

    def prompt(self, messages: list[dict[str, str]]) -> int:
        if self._llama is None:
            return approx_prompt_tokens(messages)
        text = self._format(messages=messages).prompt
        return len(self._llama.tokenize(text.encode(), add_bos=False, special=True))

    def text(self, text: str) -> int:
        if self._llama is None:
            return max(1, approx_tokens(text))
        return len(self._llama.tokenize(text.encode(), add_bos=False, special=False))


def token_items(task: str) -> pd.DataFrame:
    """The simulated personalization study's items (``auditor demo``) shaped for ``task``."""
    from auditor.simulate import simulate_relevance_study, simulate_study

    if task == "binary":
        rel = simulate_relevance_study().items
        return pd.DataFrame(
            {
                "item_id": rel["item_id"],
                "prompt": [
                    f"Should the answer to the request {p!r} take this fact about the user into account: {a}"
                    for p, a in zip(rel["prompt"], rel["attribute"], strict=True)
                ],
            }
        )
    items = simulate_study().items[["item_id", "prompt", "response_a", "response_b", "profile"]].copy()
    if task == "score":
        items = items.rename(columns={"response_b": "response"}).drop(columns="response_a")
    return items


def completion_tokens(tokenizer: Tokenizer, template: Any, mode: str) -> tuple[float, str]:
    """Completion tokens of the answer a mode asks for (mean over the verdicts) and what was counted."""
    verdicts = list(template.verdicts)
    if mode == "logprobs":
        counts = [tokenizer.text(v) for v in verdicts]
        what = "the verdict token (+ end of turn)"
    elif mode == "json":
        counts = [tokenizer.text(json.dumps({"verdict": v})) for v in verdicts]
        what = '{"verdict": V}'
    else:
        counts = [tokenizer.text(f"Verdict: {v}") for v in verdicts]
        what = '"Verdict: V" line only (the explanation before it is the model\'s: up to max_tokens)'
    return statistics.mean(counts) + 1, what  # + the end-of-turn token the model stops with


def bench_tokens(tokenizer: Tokenizer, limit: int | None = None) -> list[dict[str, Any]]:
    from judges.llm import DEFAULT_MAX_TOKENS

    rows = []
    for name in BUILTIN_TEMPLATES:
        template = load_template(name, name)
        items = token_items(name)
        if limit is not None:
            items = items.head(limit)
        records = items.to_dict("records")
        for mode in VERDICT_MODES:
            counts = []
            fixed = None
            for item in records:
                messages = render_messages(template, item, mode=mode, profile_view="full", profile_at="start")
                counts.append(tokenizer.prompt(messages))
                if fixed is None:  # the template's own part: system message + answer instruction + framing
                    fixed = tokenizer.prompt(
                        [{"role": "system", "content": template.system}, {"role": "user", "content": ""}]
                    ) + tokenizer.text("\n\n" + template.answer[mode])
            completion, _ = completion_tokens(tokenizer, template, mode)
            rows.append(
                {
                    "template": template.id,
                    "mode": mode,
                    "items": len(counts),
                    "prompt_mean": statistics.mean(counts),
                    "prompt_min": min(counts),
                    "prompt_max": max(counts),
                    "fixed": fixed,
                    "completion": completion,
                    "max_tokens": DEFAULT_MAX_TOKENS[mode],
                }
            )
    return rows


# -- printing ---------------------------------------------------------------------------------------------------
def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    print("| " + " | ".join(headers) + " |")
    print("|" + "|".join("--:" for _ in headers) + "|")
    for row in rows:
        print("| " + " | ".join(str(cell) for cell in row) + " |")
    print()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs, one repeat, 20,000 cached items")
    parser.add_argument("--smoke", action="store_true", help="a tiny run: concurrency 4, 20 items, 10 ms")
    parser.add_argument("--latency", type=float, default=0.2, help="server latency in seconds (0.2)")
    parser.add_argument("--concurrency", default="16,64,256", help="comma-separated (16,64,256)")
    parser.add_argument("--rounds", type=int, default=25, help="items per run = rounds x concurrency (25)")
    parser.add_argument("--repeats", type=int, default=2, help="best of this many runs of each kind (2)")
    parser.add_argument(
        "--cache-items", type=int, default=100_000, help="items of the cached rerun (100,000)"
    )
    parser.add_argument("--approx-tokens", action="store_true", help="count tokens by the approximation")
    parser.add_argument("--skip", default="", help="comma-separated parts to skip: throughput,cache,tokens")
    args = parser.parse_args(argv)
    concurrencies = [int(c) for c in args.concurrency.split(",") if c]
    rounds, repeats, cache_items, token_limit = args.rounds, args.repeats, args.cache_items, None
    if args.quick:
        rounds, repeats, cache_items = 10, 1, 20_000
    if args.smoke:
        args.latency, concurrencies, rounds, repeats, cache_items, token_limit = 0.01, [4], 5, 1, 200, 5
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")

    with tempfile.TemporaryDirectory(prefix="bench-judges-") as tmp:
        workdir = Path(tmp)
        if "throughput" not in skip:
            print(
                f"\n## Throughput: latency {args.latency * 1e3:.0f} ms, {rounds} rounds, best of {repeats}\n"
            )
            rows = bench_throughput(args.latency, concurrencies, rounds, repeats, workdir)
            print_table(
                (
                    "concurrency", "judgments", "ideal /s", "transport", "baseline /s", "baseline % ideal",
                    "runner /s",
                    "runner % ideal", "max in flight (base / runner)", "client CPU ms/judgment (base / runner)",
                    "runner overhead ms/judgment (wall / CPU)",
                ),
                [
                    (
                        r["concurrency"], f"{r['judgments']:,}", f"{r['ideal_per_s']:.0f}", r["transport"],
                        f"{r['baseline_per_s']:.0f}", f"{100 * r['baseline_share']:.1f}%",
                        f"{r['runner_per_s']:.0f}", f"{100 * r['runner_share']:.1f}%",
                        f"{r['in_flight_baseline']} / {r['in_flight_runner']}",
                        f"{r['baseline_cpu_ms']:.2f} / {r['runner_cpu_ms']:.2f}",
                        f"{r['overhead_wall_ms']:+.2f} / {r['overhead_cpu_ms']:+.2f}",
                    )
                    for r in rows
                ],
            )  # fmt: skip
        if "cache" not in skip:
            print(f"\n## Cached rerun: {cache_items:,} pairwise items, every response stored\n")
            result = bench_cached(cache_items, workdir, 1 if (args.quick or args.smoke) else 2)
            print_table(
                ("items", "wall s", "judgments/s", "first rerun s (parses, stores verdicts)", "cache file MB",
                 "fill s"),
                [
                    (
                        f"{result['items']:,}", f"{result['wall_s']:.2f}", f"{result['per_s']:,.0f}",
                        f"{result['first_s']:.2f}", f"{result['file_mb']:.0f}", f"{result['fill_s']:.1f}",
                    )
                ],
            )  # fmt: skip
            total = sum(result["stages"].values())
            print_table(
                ("stage", "s", "share", "µs/judgment"),
                [
                    (name, f"{s:.2f}", f"{100 * s / total:.0f}%", f"{1e6 * s / result['items']:.1f}")
                    for name, s in result["stages"].items()
                ],
            )
        if "tokens" not in skip:
            tokenizer = Tokenizer(real=not args.approx_tokens)
            print(f"\n## Tokens per judgment (simulated study; {tokenizer.name})\n")
            rows = bench_tokens(tokenizer, token_limit)
            print_table(
                (
                    "template", "mode", "items", "prompt tokens mean (min-max)", "of which template",
                    "completion tokens", "default max_tokens",
                ),
                [
                    (
                        r["template"], r["mode"], r["items"],
                        f"{r['prompt_mean']:.0f} ({r['prompt_min']}-{r['prompt_max']})", r["fixed"],
                        f"{r['completion']:.1f}" + ("+" if r["mode"] == "text" else ""), r["max_tokens"],
                    )
                    for r in rows
                ],
            )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`lingxi eval ...`: a readable table, or exactly one JSON object with --json."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lingxi.cli.output import table
from lingxi.companion.memory import CONTEXT_MODES
from lingxi.errors import BadInput
from lingxi.library import Library
from lingxi.rec.explore import EXPLORE_EVIDENCE, EXPLORE_ORDER, EXPLORE_ORDERS, EXPLORE_TAIL

if TYPE_CHECKING:
    from lingxi.companion.memory import RecallWeights


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    ev = sub.add_parser("eval", help="benchmarks: retrieval (more arrive with later components)")
    esub = ev.add_subparsers(dest="eval_cmd", required=True, metavar="{retrieval,agent,rec,memory,summarize}")
    r = esub.add_parser("retrieval", help="nDCG@10, Recall@10/50, MRR for bm25, dense, hybrid and bm25s")
    r.add_argument("--rgb", type=Path, help="RGB file (e.g. ../shared/data/rgb/zh_refine.json)")
    r.add_argument("--hotpotqa", type=Path, help="HotpotQA with paragraphs (e.g. ../shared/data/hotpotqa/dev_200.jsonl)")
    r.add_argument("--locomo", type=Path, help="LoCoMo JSON (../shared/data/locomo/locomo_conv0-4.json): each"
                   " conversation one long transcript, its evidence turns the gold (--skip/--limit count conversations)")
    r.add_argument("--long-hotpotqa", type=Path, help="HotpotQA file whose paragraphs are joined into long articles,"
                   " 5 questions' paragraphs each, supporting paragraphs the gold")
    r.add_argument("--asr", type=Path, nargs="+", metavar="FILE", help="Chinese transcripts/subtitles: known-item"
                   " questions on clean text and on a copy with --noise of its words replaced by pinyin homophones;"
                   " hybrid with and without the phonetic list")
    r.add_argument("--questions", type=Path, help="questions over real documents (bench/data/realworld_qa.jsonl's"
                   " format: evidence located by verbatim quotes); needs --corpus")
    r.add_argument("--corpus", type=Path, help="--questions: the folder of documents, ingested as they are")
    r.add_argument("--split", choices=["dev", "test"], help="--questions: only this split")
    r.add_argument("--kind", action="append", default=[], help="--questions: only rows of this kind (repeatable)")
    r.add_argument("--noise", type=float, default=0.15, help="--asr: share of words replaced (default 0.15)")
    r.add_argument("--seed", type=int, default=0, help="--asr: seed of the replacements and the questions")
    r.add_argument("--limit", type=int, help="only N questions (conversations for --locomo)")
    r.add_argument("--skip", type=int, default=0, help="start after the first N questions (conversations for"
                   " --locomo); with --limit a slice, e.g. a frozen split")
    r.add_argument("--per-note", type=int, help="per-note limit of every row (default 1 for passage sets, 0 for long"
                   " documents: a plain chunk ranking)")
    r.add_argument("--json", action="store_true")
    r.set_defaults(run=run_retrieval)
    a = esub.add_parser("agent", help="EM/F1/accuracy, citation validity, searches, latency: closed-book, RAG, agent")
    a.add_argument("--hotpotqa", type=Path, help="HotpotQA with paragraphs (../shared/data/hotpotqa/dev_200.jsonl)")
    a.add_argument("--musique", type=Path, help="MuSiQue JSON list (../shared/data/musique/musique_train.json)")
    a.add_argument("--rgb", type=Path, help="RGB rows, each question over its own passages, scored by its facts "
                                            "(../shared/data/rgb/zh_int.json)")
    a.add_argument("--repairs", help="agent repairs: default (every one), all, none, a list, or all,-NAME "
                                    "(see `lingxi ask --help`)")
    a.add_argument("--room", action=argparse.BooleanOptionalAction, default=None,
                   help="reading room: keep every passage read in front of the model, so each is read once per "
                        "question (default: env LINGXI_AGENT_ROOM, on)")
    a.add_argument("--no-early-stop", action="store_true", help="always run the agent's answer step")
    a.add_argument("--timeout", type=float, default=300.0,
                   help="the agent's time budget per question in seconds (default 300; raise it on a loaded machine)")
    a.add_argument("--setting", choices=["shared", "per-question", "both"], default="shared",
                   help="HotpotQA: one store for all questions (default) or one per question")
    a.add_argument("--store", choices=["asked", "file"], default="asked",
                   help="HotpotQA shared store: the paragraphs of the questions asked (default) or of every question"
                   " in the file (more distractors)")
    a.add_argument("--questions", type=Path, help='QA JSONL: {"id", "q", "gold": [...]} per line, or'
                   ' evidence-backed rows with a split (bench/data/realworld_qa.jsonl)')
    a.add_argument("--corpus", type=Path, help="folder (or file) ingested as the store for --questions")
    a.add_argument("--split", choices=("dev", "test"), help="only the --questions rows of this split")
    a.add_argument("--limit", type=int, help="only the first N questions")
    a.add_argument("--skip", type=int, default=0, help="start after the first N questions (with --limit, a later"
                   " slice of the file: --skip 20 --limit 20 asks questions 21-40)")
    a.add_argument("--max-llm-calls", type=int, default=12)
    a.add_argument("--systems", help="comma-separated rows to run: closed-book,rag,agent (default: all)")
    a.add_argument("--trace", type=Path, help="write one JSON line per question and system as it finishes: answer,"
                   " gold, scores, costs, passages read, the agent's steps and citations (default: a new file under"
                   " $LINGXI_HOME/eval-traces/); `lingxi eval summarize TRACE` gives its table")
    a.add_argument("--json", action="store_true")
    a.set_defaults(run=run_agent)
    rc = esub.add_parser("rec", help="Recall/NDCG@20 warm and cold, exploration: popularity, ItemCF, encoders, blend")
    rc.add_argument("--movielens", type=Path, help="folder with ml-100k.item and ml-100k.inter")
    rc.add_argument("--notes", type=Path, help='generic format: notes JSONL {"id", "title", "text", "tags"}')
    rc.add_argument("--events", type=Path, help="generic format: events CSV/JSONL (user, note, action, timestamp)")
    rc.add_argument("--k", type=int, default=20)
    rc.add_argument("--cold-share", type=float, default=0.2)
    rc.add_argument("--seed", type=int, default=0)
    rc.add_argument("--steps", type=int, default=3000, help="encoder training steps")
    rc.add_argument("--llm-features", action="store_true",
                    help="slow, opt-in: add the LLM compression features (one LLM pass per item the first time; cached"
                    " by content hash in $LINGXI_CACHE_DIR for every later run) and the LLM compression encoder row")
    rc.add_argument("--llm-proposer", action="store_true",
                    help="slow, opt-in: exploration rows with the LLM proposer on --explore-users users (seconds per"
                    " user; replies cached in $LINGXI_CACHE_DIR)")
    rc.add_argument("--llm-model", help="model for LLM features/proposals (default: LINGXI_LLM_MODEL)")
    rc.add_argument("--explore", type=float, default=0.2)
    rc.add_argument("--explore-tail", default=str(EXPLORE_TAIL),
                    help="explore slots take notes at or below this quantile of the popularity of the user's history"
                    " (1 = as popular as the user's most popular note);"
                    " a comma-separated list gives one exploration row per value")
    rc.add_argument("--explore-order", choices=EXPLORE_ORDERS, default=EXPLORE_ORDER,
                    help="order of the proposed topics' notes: the blend's own (ranked), co-engagement with the user's last notes (recent), or similarity to the user (affinity)")
    rc.add_argument("--explore-users", type=int, default=50, help="users in the LLM-proposer exploration rows")
    rc.add_argument("--llm-evidence", choices=["on", "off", "both"], default="on" if EXPLORE_EVIDENCE else "off",
                    help="the LLM proposer sees each topic's co-engagement evidence (on), does not (off), or one row"
                    " of each on the same users (both)")
    rc.add_argument("--json", action="store_true")
    rc.set_defaults(run=run_rec)
    sm = esub.add_parser("summarize", help="the result table of an `eval agent` trace file, also of an interrupted run")
    sm.add_argument("trace", type=Path)
    sm.add_argument("--json", action="store_true")
    sm.set_defaults(run=run_summarize)
    mm = esub.add_parser("memory", help="LoCoMo: F1 per category, evidence recall@10, prompt tokens, latency")
    mm.add_argument("--locomo", type=Path, required=True, help="LoCoMo JSON (../shared/data/locomo/locomo_conv0-4.json)")
    mm.add_argument("--limit", type=int, help="only the first N questions of each conversation (after --stride)")
    mm.add_argument("--stride", type=int, default=1,
                    help="only every Nth question of each conversation: a sample spread over all categories")
    mm.add_argument("--conversations", type=int, help="only the first N conversations (after --skip-conversations)")
    mm.add_argument("--skip-conversations", type=int, default=0,
                    help="skip the first N conversations (2: the frozen test split, conversations 2-4)")
    mm.add_argument("--sessions", type=int,
                    help="replay only the first N sessions of each conversation and ask only the questions whose"
                    " evidence lies in them (bounds extraction cost)")
    mm.add_argument("--window", type=int, default=16, help="turns per extraction call (bounds LLM cost)")
    mm.add_argument("--k", type=int, default=10)
    mm.add_argument("--memory-context", default=os.environ.get("LINGXI_MEMORY_CONTEXT", "statements"),
                    choices=CONTEXT_MODES,
                    help="what lingxi memory's answer reads for a recalled memory: its statement, the statement and"
                    " the turns it came from (default: LINGXI_MEMORY_CONTEXT, else statements), or those turns alone")
    mm.add_argument("--memory-budget", type=int, default=0,
                    help="prompt tokens lingxi memory's recalled context may take, best first (default 0: the k"
                    " recalled, whatever their length)")
    mm.add_argument("--full-context-tokens", type=int, default=0,
                    help="budget of the full-context row (default: the LLM context, LINGXI_LLM_CONTEXT, minus 700)")
    mm.add_argument("--last-n", type=int, default=20)
    mm.add_argument("--weights", help="recall weights relevance,recency,importance[,decay per hour[,BM25 share of"
                    " relevance]] for lingxi memory (default 1,0,0,0.999,0.5: relevance only)")
    mm.add_argument("--systems", help="comma-separated rows to run: full-context,last-n,rag,lingxi (default: all)")
    mm.add_argument("--no-answers", action="store_true",
                    help="retrieval only: evidence recall and prompt tokens, no answers (replays still extract)")
    mm.add_argument("--json", action="store_true")
    mm.set_defaults(run=run_memory)


def print_result(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(result, ensure_ascii=False))
        return
    keys = list(dict.fromkeys(k for r in result["rows"] for k in r["metrics"]))
    print(f"dataset: {result['dataset']}")

    def cell(v: Any) -> str:
        return "-" if v is None else str(v)

    print(table([[r["system"], *[cell(r["metrics"].get(k)) for k in keys]] for r in result["rows"]], ["system", *keys]))
    print(f"config: {json.dumps(result['config'], ensure_ascii=False)}")


def run_retrieval(lib: Library, args: argparse.Namespace) -> int:
    from lingxi.evals import retrieval

    sources = [(p, kind, loader) for kind, p, loader in [
        ("rgb", args.rgb, retrieval.load_rgb), ("hotpotqa", args.hotpotqa, retrieval.load_hotpotqa),
        ("locomo", args.locomo, retrieval.load_locomo), ("long-hotpotqa", args.long_hotpotqa,
                                                          retrieval.load_long_hotpotqa)] if p]
    if args.questions:
        if not args.corpus:
            raise BadInput("--questions needs --corpus FOLDER (the documents the questions are about)")
        if not args.questions.exists():
            raise BadInput(f"{args.questions}: no such file")
        data = retrieval.load_questions(args.questions, args.corpus, args.split, tuple(args.kind))
        name = f"corpus-{args.corpus.resolve().name}"  # one store per corpus folder, whatever the questions
        result = retrieval.evaluate(data, lib.settings, progress=lambda s: print(f"[{data.name}] {s}", file=sys.stderr),
                                    store=lib.settings.home / "eval-stores" / name, per_note=args.per_note)
        print_result(result, args.json)
    if not sources and not args.asr and not args.questions:
        raise BadInput("give a dataset: --rgb, --hotpotqa, --locomo, --long-hotpotqa FILE and/or --asr FILE...")
    if args.skip < 0:
        raise BadInput(f"--skip must be 0 or more, got {args.skip}")
    for path, kind, loader in sources:
        if not path.exists():
            raise BadInput(f"{path}: no such file")
        data = loader(path, args.limit, args.skip)
        name = f"{kind}-{path.stem}-{args.skip}-{args.limit or 'all'}"
        store = lib.settings.home / "eval-stores" / name
        result = retrieval.evaluate(data, lib.settings, progress=lambda s: print(f"[{data.name}] {s}", file=sys.stderr),
                                    store=store, per_note=args.per_note)
        print_result(result, args.json)
    if args.asr:
        run_asr(lib, args)
    return 0


def run_asr(lib: Library, args: argparse.Namespace) -> int:
    from dataclasses import replace

    from lingxi.evals import retrieval

    for p in args.asr:
        if not p.exists():
            raise BadInput(f"{p}: no such file")
    if not 0 < args.noise < 1:
        raise BadInput(f"--noise must be a share between 0 and 1, got {args.noise}")
    clean, noisy, affected = retrieval.load_asr(list(args.asr), args.noise, args.seed)
    # the evaluation's passages are JSONL notes standing for transcripts: give them the transcripts' phonetic index
    settings = replace(lib.settings, phonetic_kinds=("jsonl",))
    names = "+".join(sorted(p.stem for p in args.asr))[:80]
    noise_tag = f"noisy-{args.noise:g}-{args.seed}"
    for data, tag in ((noisy, noise_tag), (affected, noise_tag), (clean, "clean")):
        store = lib.settings.home / "eval-stores" / f"asr-{tag}-{names}"
        result = retrieval.evaluate(data, settings, progress=lambda s: print(f"[{data.name}] {s}", file=sys.stderr),
                                    store=store, systems=retrieval.phonetic_systems(settings, 0))
        print_result(result, args.json)
    return 0


def run_agent(lib: Library, args: argparse.Namespace) -> int:
    from lingxi.agent import AgentConfig, pick_repairs
    from lingxi.cli.ask import model_progress
    from lingxi.evals import agent as ev
    from lingxi.library import make_chat

    if not args.hotpotqa and not args.musique and not args.rgb and not args.questions:
        raise BadInput("give --hotpotqa FILE, --musique FILE, --rgb FILE, or --questions FILE with --corpus DIR")
    if args.questions and not args.corpus:
        raise BadInput("--questions needs --corpus DIR (the notes the questions are asked over)")
    for p in (args.hotpotqa, args.musique, args.rgb, args.questions, args.corpus):
        if p and not p.exists():
            raise BadInput(f"{p}: no such file or directory")
    systems = ev.pick_systems(args.systems)
    chat = make_chat(lib.settings, model_progress)
    config = AgentConfig(max_llm_calls=args.max_llm_calls, max_seconds=args.timeout, early_stop=not args.no_early_stop,
                         repairs=pick_repairs(args.repairs),
                         **({} if args.room is None else {"room": args.room}))

    def say(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    trace = args.trace or lib.settings.home / "eval-traces" / f"agent-{time.strftime('%Y%m%d-%H%M%S')}.jsonl"
    trace.parent.mkdir(parents=True, exist_ok=True)
    say(f"each answer is written to {trace} as it finishes (`lingxi eval summarize {trace}` gives the table)")
    with contextlib.ExitStack() as stack:
        out = stack.enter_context(trace.open("w", encoding="utf-8"))

        def log(rec: dict[str, Any]) -> None:
            out.write(json.dumps(rec, ensure_ascii=False) + "\n")
            out.flush()

        # `timeout` and schedulers stop a run with SIGTERM: treated as an interrupt, so the summary still prints
        if threading.current_thread() is threading.main_thread():
            stack.callback(signal.signal, signal.SIGTERM, signal.signal(signal.SIGTERM, _interrupt))
        try:
            def header(dataset: str, **extra: Any) -> None:
                log({"run": "eval agent", "dataset": dataset, "systems": list(systems),
                     "config": {"llm": chat.name, "skipped": args.skip, "limit": args.limit,
                                "repairs": list(config.repairs),
                                "early_stop": config.early_stop, "room": config.room,
                                "planner": lib.settings.planner_model or "fork", **extra}})

            for path in [p for p in (args.hotpotqa, args.musique) if p]:
                settings = ["shared", "per-question"] if args.setting == "both" else [args.setting]
                for setting in settings:
                    header(f"{path.name} ({setting} store)", setting=setting,
                           **({"store_from": args.store} if setting == "shared" else {}))
                    result = ev.eval_hotpotqa(path, chat, lib.settings, args.limit, setting, config, say, log,
                                              systems, skip=args.skip, store_from=args.store)
                    log({"finished": True, "questions": result["config"]["questions"]})
                    print_result(result, args.json)
            if args.rgb:
                header(f"{args.rgb.name} (per-question store)")
                result = ev.eval_rgb(args.rgb, chat, lib.settings, args.limit, config, say, log, systems,
                                     skip=args.skip)
                log({"finished": True, "questions": result["config"]["questions"]})
                print_result(result, args.json)
            if args.questions:
                header(f"{args.questions.name} over {args.corpus}")
                result = ev.eval_questions(args.questions, args.corpus, chat, lib.settings, args.limit, config, say,
                                           log, systems, skip=args.skip, split=args.split)
                log({"finished": True, "questions": result["config"]["questions"]})
                print_result(result, args.json)
        except KeyboardInterrupt:
            out.flush()
            say(f"interrupted: the table of the questions that finished, from {trace}")
            try:
                for result in ev.summarize(trace):
                    if result["config"].get("answered"):
                        print_result(result, args.json)
            except BadInput as e:
                say(str(e))
            return 130
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run_summarize(lib: Library, args: argparse.Namespace) -> int:
    from lingxi.evals.agent import summarize

    for result in summarize(args.trace):
        if not args.json and not result["config"]["finished"]:
            print(f"(partial: the run stopped after {result['config']['answered']} questions)")
        print_result(result, args.json)
    return 0


def run_rec(lib: Library, args: argparse.Namespace) -> int:
    from lingxi.evals import rec as ev
    from lingxi.llm.bundled import resolve_model
    from lingxi.llm.hidden import LocalHiddenState
    from lingxi.rec.encoder import TrainConfig
    from lingxi.rec.features import llm_compression, open_cache, zero_shot

    if args.movielens:
        data = ev.load_movielens(args.movielens)
    elif args.notes and args.events:
        for p in (args.notes, args.events):
            if not p.exists():
                raise BadInput(f"{p}: no such file")
        data = ev.load_jsonl(args.notes, args.events)
    else:
        raise BadInput("give --movielens DIR, or --notes FILE with --events FILE")

    def say(msg: str) -> None:
        print(f"[{data.name}] {msg}", file=sys.stderr, flush=True)

    started = time.perf_counter()

    # features and LLM replies are cached by content hash in the machine's cache, shared by every home and run
    cache = open_cache(lib.settings.cache_dir / "eval-features.db")
    emb = lib.embedder
    if emb is None:
        raise BadInput("eval rec needs an embedder (LINGXI_EMBEDDER is 'none')")
    say(f"zero-shot features for {len(data.items)} items ({emb.name}); cached by content hash")
    feats = {"zero-shot": zero_shot(cache, emb, data.items, ev.progress_printer("  embed (items)"))}
    proposer = None
    if not (args.llm_features or args.llm_proposer):
        say("LLM rows are opt-in (--llm-features, --llm-proposer)")
    if args.llm_features or args.llm_proposer:
        from lingxi.cli.ask import model_progress
        from lingxi.library import make_chat
        from lingxi.rec.explore import LLMProposer

        model = args.llm_model or lib.settings.llm_model
        if args.llm_features:
            hidden = LocalHiddenState(resolve_model(model, lib.settings.model_cache, model_progress),
                                      threads=lib.settings.threads)
            say(f"LLM compression features ({hidden.name}); cached by content hash after the first run")
            feats["llm"] = llm_compression(cache, hidden, data.items, ev.progress_printer("  llm (items)"))
            hidden._llm = None
        if args.llm_proposer:
            settings = lib.settings if not args.llm_model else type(lib.settings).load(
                lib.settings.home, lib.settings.threads, llm_model=args.llm_model)
            from lingxi.llm.cache import CachedChatModel

            # replies are cached beside the features: a re-run with the same model and prompts asks the model nothing
            chat = CachedChatModel(make_chat(settings, model_progress), cache)
            proposer = [LLMProposer(chat, evidence=ev_on) for ev_on in (False, True)
                        if args.llm_evidence == "both" or (args.llm_evidence == "on") == ev_on]
    result = ev.evaluate(data, feats, k=args.k, cold_share=args.cold_share, seed=args.seed,
                         train_config=TrainConfig(steps=args.steps, seed=args.seed), explore_share=args.explore,
                         proposer=proposer, explore_users=args.explore_users,
                         explore_tails=_tails(args.explore_tail), explore_order=args.explore_order, say=say,
                         progress=ev.progress_printer)
    result["config"]["wall_s"] = round(time.perf_counter() - started, 1)
    print_result(result, args.json)
    return 0


def _tails(text: str) -> list[float]:
    try:
        tails = [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise BadInput(f"--explore-tail must be numbers between 0 and 1, got {text!r}") from None
    if not tails or not all(0 < t <= 1 for t in tails):
        raise BadInput(f"--explore-tail must be numbers in (0, 1], got {text!r}")
    return tails


def _weights(text: str) -> RecallWeights:
    from lingxi.companion.memory import RecallWeights

    try:
        parts = [float(x) for x in text.split(",")]
    except ValueError:
        parts = []
    if len(parts) not in (3, 4, 5) or any(p < 0 for p in parts) or (len(parts) >= 4 and not 0 < parts[3] <= 1) \
            or (len(parts) == 5 and parts[4] > 1):
        raise BadInput("--weights must be relevance,recency,importance[,decay per hour in (0, 1][,lexical share in"
                       f" [0, 1]]], got {text!r}")
    w = RecallWeights(relevance=parts[0], recency=parts[1], importance=parts[2])
    if len(parts) >= 4:
        w.decay_per_hour = parts[3]
    if len(parts) == 5:
        w.lexical = parts[4]
    return w


def run_memory(lib: Library, args: argparse.Namespace) -> int:
    from lingxi.cli.ask import model_progress
    from lingxi.evals import memory as ev
    from lingxi.library import make_chat

    if not args.locomo.exists():
        raise BadInput(f"{args.locomo}: no such file")
    chat = make_chat(lib.settings, model_progress)
    result = ev.evaluate(args.locomo, chat, lib.embedder, lib.settings.home / "eval-memory", limit=args.limit,
                         conversations=args.conversations, stride=args.stride,
                         skip=args.skip_conversations, sessions=args.sessions, window=args.window, k=args.k,
                         context_tokens=args.full_context_tokens, last_n=args.last_n, answers=not args.no_answers,
                         memory_context=args.memory_context, memory_budget=args.memory_budget,
                         only=[s.strip() for s in args.systems.split(",") if s.strip()] if args.systems else None,
                         weights=_weights(args.weights) if args.weights else None,
                         say=lambda s: print(f"[locomo] {s}", file=sys.stderr, flush=True))
    print_result(result, args.json)
    return 0

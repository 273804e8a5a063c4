"""How often the model hands a translated search query back in the question's own language.

For each question of a question set (``--questions FILE.jsonl --split dev|test``) over an ingested corpus, the
question is searched as the agent searches it; when a hit is written in the other language (Chinese / English), the
agent's translate prompt is asked for the query in that language, and the reply's language is checked
(``lingxi.text.written_in``). With ``--again``, a reply handed back in the question's language is asked for once
more with the ``translate_again`` prompt, as the agent does. Prints the ids where the query came back in the
question's own language.

    lingxi --home H eval agent --questions bench/data/realworld_qa.jsonl --corpus ../shared/data/realworld ...  # ingests
    LINGXI_THREADS=1 python bench/translate_probe.py --store H/eval-corpus/<key> \\
        --questions bench/data/realworld_qa.jsonl --split dev [--again]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from lingxi import Library, Settings
from lingxi.agent.loop import _QUERY, render, template
from lingxi.library import make_chat
from lingxi.text import language, written_in

NAMES = {"zh": "Chinese (中文)", "en": "English"}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--store", type=Path, required=True, help="a lingxi home holding the ingested corpus")
    p.add_argument("--questions", type=Path, required=True, help="question set (JSONL with id, q, split)")
    p.add_argument("--split", choices=("dev", "test"))
    p.add_argument("--again", action="store_true", help="ask once more, as the agent does, when handed back")
    args = p.parse_args()
    lib = Library(Settings.load(args.store))
    chat = make_chat(lib.settings)
    asked, back = 0, []
    for row in map(json.loads, args.questions.read_text(encoding="utf-8").splitlines()):
        if args.split and row.get("split") != args.split:
            continue
        q, lang = row["q"], language(row["q"])
        hits = lib.search(q, k=6, mode=lib.default_mode(), per_note=2)
        other = {written_in(f"{h.title} {h.chunk.text}") for h in hits} - {lang}
        if not other:
            continue
        asked += 1
        got, target = "", NAMES[other.pop()]
        for prompt in ("translate", "translate_again") if args.again else ("translate",):
            msgs = [{"role": "system", "content": template("system")},
                    {"role": "user", "content": render(prompt, query=q, language=target, source=NAMES[lang])}]
            got = str(chat.complete_json(msgs, _QUERY, max_tokens=300).get("query") or "").strip()
            if got and written_in(got) != lang:
                break
        if not got or written_in(got) == lang:
            back.append(row["id"])
    print(json.dumps({"translation_asked": asked, "handed_back": len(back), "ids": back}))
    lib.close()


if __name__ == "__main__":
    main()

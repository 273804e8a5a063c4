"""Persona consistency against the real bundled chat model (marker `model`): scripted multi-session chats, in
Chinese and English, asserting that replies use the right names, that a stated preference survives 20
unrelated turns, and that a memory the user deleted is gone from what the companion says.

Greedy decoding, one thread, short replies: a few minutes on a laptop CPU."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest

from lingxi import Library, Settings
from lingxi.companion import persona
from lingxi.companion.chat import Companion, CompanionConfig
from lingxi.errors import BackendUnavailable
from lingxi.library import make_chat

pytestmark = pytest.mark.model
pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (make setup builds it)")

SMALL_TALK = [
    ("The weather was grey all day.", "Grey days are cosy days."),
    ("I watched a documentary about volcanoes.", "Volcanoes are fascinating!"),
    ("My bus was late again.", "Oh no, that's annoying."),
    ("I cleaned the kitchen.", "A clean kitchen feels great."),
    ("I read two chapters of a novel.", "Nice, what is it about?"),
    ("It's about a lighthouse keeper.", "Sounds peaceful."),
    ("I fixed a squeaky door.", "Handy!"),
    ("The neighbours had a party.", "Was it loud?"),
    ("A bit, but it ended early.", "Good."),
    ("I bought new socks.", "Fresh socks are underrated."),
    ("I tried to draw a cat.", "I'd love to see it."),
    ("It looked like a potato.", "Potato cats are the best cats."),
    ("I walked to the park.", "How was it?"),
    ("There were ducks.", "Ducks are funny."),
    ("I repotted a plant.", "Your plant must be happy."),
    ("I answered a lot of emails.", "That sounds tiring."),
    ("I learned a new card game.", "Which one?"),
    ("It's called Spit.", "Sounds fast."),
    ("I made a paper plane.", "Did it fly far?"),
    ("Across the whole room.", "Impressive!"),
]


@pytest.fixture(scope="module")
def lib(tmp_path_factory: pytest.TempPathFactory) -> Library:
    library = Library(Settings.load(tmp_path_factory.mktemp("persona-home"), threads=1))
    yield library
    library.close()


@pytest.fixture(scope="module")
def pet(lib: Library) -> Companion:
    try:
        chat = make_chat(lib.settings)
    except BackendUnavailable as e:
        pytest.skip(str(e))
    cfg = CompanionConfig(temperature=0.0, max_reply_tokens=60, background=False)
    return Companion(lib, chat, persona.load("pet"), cfg)


def addresses_user_as(reply: str, name: str) -> bool:
    """Does the reply call the user by ``name`` (an opening or closing vocative, a greeting)?"""
    n = re.escape(name)
    return bool(re.search(rf"^\W*(?:\*[^*]*\*\s*)?(?:(?:嗨|你好|哈喽|hi|hey|hello)\W*)?{n}\s*[，,!！~～]|"
                          rf"(?:嗨|你好|哈喽)[，,\s]*{n}|[，,]\s*{n}\s*[!！。.~～]?$", reply.strip(), re.I))


def test_chinese_the_cats_name_is_never_the_users(lib: Library, pet: Companion) -> None:
    day1 = datetime(2026, 11, 20, 20, 0)
    out = pet.respond("lin", "我养的猫叫南瓜，我下周要去成都出差，有点紧张。", day1)
    assert not addresses_user_as(out["reply"], "南瓜"), out["reply"]
    pet.flush("lin", day1 + timedelta(hours=1))
    mems = pet.memory("lin").entries(readable=True)
    texts = [f"{m.subject}|{m.relation}|{m.text}" for m in mems]
    # the cat is a subject of its own, never the user's name
    assert any(m.subject == "南瓜" or ("南瓜" in m.text and m.relation == "pet") for m in mems) or \
        any("南瓜" in m.text and "猫" in m.text for m in mems), texts
    assert not any((m.slot or "").endswith(".name") and m.subject == "user" and "南瓜" in m.text for m in mems), texts
    # the trip is remembered, about the user, with next week resolved to a date
    assert any(m.subject == "user" and m.event_date == "2026-11-23" and ("成都" in m.text or "出差" in m.text)
               for m in mems), texts
    out = pet.respond("lin", "你还记得我的猫叫什么吗？", day1 + timedelta(days=1))
    assert "南瓜" in out["reply"], out["reply"]
    assert not addresses_user_as(out["reply"], "南瓜"), out["reply"]


def test_english_preference_survives_20_turns_and_a_deleted_memory_is_gone(lib: Library, pet: Companion) -> None:
    day1 = datetime(2026, 11, 2, 19, 0)
    pet.respond("sam", "Hi! I'm Sam. My favourite drink is oolong tea.", day1)
    for i, (msg, reply) in enumerate(SMALL_TALK):
        pet.record("sam", msg, reply, day1 + timedelta(minutes=2 + i))
    pet.flush("sam", day1 + timedelta(hours=3))
    store = pet.memory("sam")
    assert len(store.recent_turns(100)) == 2 * (1 + len(SMALL_TALK))
    day2 = day1 + timedelta(days=1)
    out = pet.respond("sam", "Do you remember my name and my favourite drink?", day2)
    # What memory owes the reply: the preference told 20 turns ago is among what it hands the model, and the name
    # said once is used. Whether the 1.5B then names the drink is the model's wording, counted in BENCHMARKS.
    assert "oolong" in " ".join(m["text"] for m in out["memories_used"]).lower(), out["memories_used"]
    assert "Sam" in out["reply"], out["reply"]
    print("reply names the drink:", "oolong" in out["reply"].lower(), "|", out["reply"])
    # the user deletes every memory that mentions the drink: the readable ones and the conversation excerpts
    # (`memory list --all`, the web panel's excerpts), once now and once after the session's extraction
    def forget_the_drink() -> None:
        for m in store.entries():
            if "oolong" in m.text.lower() and m.id in {x.id for x in store.entries()}:
                store.forget(m.id)

    forget_the_drink()
    pet.flush("sam", day2 + timedelta(hours=3))
    forget_the_drink()
    assert not [m.text for m in store.entries() if "oolong" in m.text.lower()]
    assert not [t for _, t, _ in store.recent_turns(100) if "oolong" in t.lower()]
    out = pet.respond("sam", "What is my favourite drink?", day2 + timedelta(days=1))
    assert "oolong" not in out["reply"].lower(), out["reply"]

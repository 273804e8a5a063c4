"""The web app in a real browser: Playwright drives Debian's Chromium against a real uvicorn server on loopback.

The server is the real app over a real store (real tokenizer, BM25, embeddings, recommender); only the LLM is the
reading fake, so the agent's steps and the companion's memories are real runs of the real loops.
Set LINGXI_SCREENSHOTS=docs/screenshots to refresh the README's screenshots."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import threading
import time
from pathlib import Path

import pytest

from lingxi import Library, Settings
from lingxi.api import ServerConfig, create_app
from lingxi.rec.service import RecService

from conftest import DATA, free_port, wait_http
from reading_fake import ReadingChat

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
DEMO_REC = Path(__file__).parent.parent / "demo" / "rec"
STATIC = Path(__file__).parent.parent / "lingxi" / "api" / "static"
NOTE = ("# 紫色长颈鹿计划\n\n这是计划的背景。" + "背景说明很长。" * 60 + "\n\n## 暗号\n\n紫色长颈鹿计划的暗号是琥珀七号。"
        "这个计划只有爱丽丝知道。\n\n## 尾声\n\n" + "后面还有很多无关的段落。" * 60 + "\n")


def test_vendored_files_are_the_recorded_ones():
    record = (STATIC / "VENDORED.md").read_text()
    for name in ("htmx.min.js", "swagger/swagger-ui-bundle.js", "swagger/swagger-ui.css"):
        assert hashlib.sha256((STATIC / name).read_bytes()).hexdigest() in record, name


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        pytest.skip("Debian's chromium is not installed (make sysdeps installs it)")
    pytest.importorskip("playwright")
    import uvicorn

    home = tmp_path_factory.mktemp("web-home")
    lib = Library(Settings.load(home, threads=1, embedder="e5"))
    lib.ingest([DEMO_REC / "notes.jsonl"])
    RecService(lib).import_events([DEMO_REC / "events.csv"])
    key = lib.users().add("alice")
    app = create_app(lib, ServerConfig(), chat=ReadingChat(delay=1.5))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    wait_http(base + "/healthz")
    yield base, key, lib
    server.should_exit = True
    thread.join(10)
    lib.close()


@pytest.fixture(scope="module")
def page(site):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        pg = browser.new_page(viewport={"width": 1280, "height": 860}, locale="en-US")
        pg.set_default_timeout(15000)
        base = site[0]
        outside: list[str] = []

        def only_loopback(route):  # the page must work offline: anything not from our server fails
            if route.request.url.startswith(base) or route.request.url.startswith("data:"):
                route.continue_()
            else:
                outside.append(route.request.url)
                route.abort()

        pg.route("**/*", only_loopback)
        pg.outside = outside
        yield pg
        browser.close()


def shots(tmp_path_factory) -> Path:
    where = os.environ.get("LINGXI_SCREENSHOTS")
    return Path(where) if where else tmp_path_factory.mktemp("shots")


def test_the_web_app_end_to_end(site, page, tmp_path_factory, tmp_path):
    from playwright.sync_api import expect

    base, key, lib = site
    out = shots(tmp_path_factory)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()

    # log in: a wrong key is refused, the right one shows the app
    page.goto(base + "/?lang=en")
    page.fill("#key", "lx_wrong")
    page.click("#login-form button")
    expect(page.locator("#login-error")).to_be_visible()
    page.screenshot(path=str(out / "login.png"))
    page.fill("#key", key)
    page.click("#login-form button")
    expect(page.locator("#user")).to_have_text("alice")

    # upload by drag and drop: one good file, one bad; a result line per file
    page.click('[data-tab="upload"]')
    srt = (DATA / "photosynthesis-class.srt").read_bytes()
    page.evaluate("""([note, srt]) => {
        const dt = new DataTransfer();
        dt.items.add(new File([note], "giraffe.md", {type: "text/markdown"}));
        dt.items.add(new File([srt], "photosynthesis-class.srt", {type: "text/plain"}));
        dt.items.add(new File(["1\\nnot a time\\nhi\\n"], "broken.srt", {type: "text/plain"}));
        document.querySelector("#drop").dispatchEvent(new DragEvent("drop", {dataTransfer: dt, bubbles: true}));
    }""", [NOTE, srt.decode()])
    expect(page.locator("#uploads li")).to_have_count(3, timeout=30000)
    expect(page.locator("#uploads li.ingested")).to_have_count(2)
    expect(page.locator("#uploads li.failed")).to_contain_text("broken.srt")
    page.screenshot(path=str(out / "upload.png"))

    # search as you type: highlighted snippets; a hit opens the note scrolled to its passage
    page.click('[data-tab="find"]')
    page.fill("#q", "")
    page.type("#q", "琥珀七号 暗号", delay=30)
    hit = page.locator("#hits li.hit").first
    expect(hit).to_contain_text("紫色长颈鹿计划")
    expect(hit.locator("mark").first).to_be_visible()
    hit.locator("a.open").click()
    target = page.locator("#note .chunk.target")
    expect(target).to_contain_text("琥珀七号")
    expect(target).to_be_in_viewport()
    page.screenshot(path=str(out / "search.png"))

    # timed media: a subtitle hit shows its timestamp
    page.fill("#q", "叶绿素 红光")
    expect(page.locator("#hits li.hit .time").first).to_have_text(re.compile(r"^00:0\d:\d\d"))

    # ask: steps appear while the agent works, then the answer; its citation opens the passage
    page.fill("#question", "紫色长颈鹿计划的暗号是什么？")
    page.click("#ask-form button")
    expect(page.locator("#steps li").first).to_be_visible()
    # read both at once: on a loaded machine two separate reads can straddle the rest of the run
    steps_while_working, answer_then = page.evaluate(
        "() => [document.querySelectorAll('#steps li').length, document.querySelector('#answer').innerText]")
    expect(page.locator("#citations li")).to_have_count(1, timeout=30000)
    assert steps_while_working >= 1 and "琥珀七号" not in answer_then  # steps streamed before the answer came
    assert page.locator("#steps li").count() > steps_while_working
    expect(page.locator("#answer")).to_contain_text("琥珀七号")
    page.screenshot(path=str(out / "ask.png"), full_page=True)
    page.locator("#citations a.cite").click()
    expect(page.locator("#note mark.quote")).to_contain_text("琥珀七号")
    expect(page.locator("#note .chunk.target")).to_be_in_viewport()

    # the feed: each item says why; exploration picks are marked
    page.click('[data-tab="feed"]')
    expect(page.locator("#feed li.rec").first).to_be_visible(timeout=30000)
    assert page.locator("#feed li.rec .why").count() == page.locator("#feed li.rec").count()
    assert page.locator("#feed li.rec.explore .badge").count() >= 1
    page.screenshot(path=str(out / "feed.png"))

    # companion chat; the memory panel lists readable memories (the excerpts they came from on request),
    # deleting one removes it for real, and editing one keeps the old wording as its history
    from lingxi.companion.memory import MemoryStore

    page.click('[data-tab="chat"]')
    seeded = MemoryStore(lib.conn, "alice", page.locator("#persona").input_value())
    (cat, _), (birthday, _) = seeded.add_many([
        {"kind": "fact", "text": "南瓜是用户的猫", "importance": 6, "ts": time.time(), "subject": "南瓜",
         "relation": "pet"},
        {"kind": "fact", "text": "用户的生日是五月三日", "importance": 7, "ts": time.time()}])
    page.fill("#message", "我养的猫叫南瓜。")
    page.click("#chat-form button")
    expect(page.locator("#chat-log p.it")).to_contain_text("I hear you")
    expect(page.locator("#memories button.excerpts")).to_contain_text("(1)")
    expect(page.locator("#memories li.memory")).to_have_count(2)  # the excerpt of this exchange is not listed
    page.screenshot(path=str(out / "companion.png"))
    page.locator("#memories button.excerpts").click()
    expect(page.locator("#memories li.memory.observation")).to_contain_text("我养的猫叫南瓜")
    page.locator("#memories button.excerpts").click()
    expect(page.locator("#memories li.memory")).to_have_count(2)
    page.locator(f"#memory-{cat.id} button.forget").click()
    expect(page.locator("#memories li.memory")).to_have_count(1)
    assert cat.id not in [m.id for m in seeded.entries()]
    row = page.locator(f"#memory-{birthday.id}")
    row.locator("details.edit summary").click()
    row.locator("input[name=text]").fill("用户的生日是五月四日")
    row.locator("details.edit button[type=submit]").click()
    expect(page.locator("#memories li.memory .text")).to_have_text(["用户的生日是五月四日"])
    edited = [m for m in seeded.entries(include_superseded=True) if m.id == birthday.id]
    assert edited and edited[0].superseded_by is not None

    # Chinese UI text
    page.goto(base + "/?lang=zh")
    expect(page.locator('[data-tab="upload"]')).to_have_text("上传")
    expect(page.locator("#user")).to_have_text("alice")
    page.screenshot(path=str(out / "zh.png"))
    page.click('[data-tab="chat"]')  # the conversation so far comes back after a reload
    expect(page.locator("#chat-log p.me").last).to_have_text("我养的猫叫南瓜。")

    # the API docs render from the vendored Swagger UI
    page.goto(base + "/docs")
    expect(page.locator(".swagger-ui .title").first).to_contain_text("lingxi")
    expect(page.locator(".opblock-summary-path", has_text="/v1/ask").first).to_be_visible()
    assert page.outside == []  # nothing was fetched from outside the server
    assert time.time() - t0 < 90

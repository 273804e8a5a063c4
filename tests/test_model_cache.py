"""The shared model cache: bundled models assembled once per machine from their part packages, under a lock, with
the SHA-256 checked. Small fake part packages stand in for the 1 GB real ones; the assembly code is the real one."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lingxi.config import Settings
from lingxi.errors import BackendUnavailable, BadInput
from lingxi.llm.bundled import BundledModel, assemble, cached, resolve_model, verify

ROOT = Path(__file__).resolve().parent.parent


def fake_parts(tmp: Path, prefix: str = "lxfake_part", n: int = 3, size: int = 3 << 20,
               delay: float = 0.0) -> tuple[BundledModel, bytes]:
    """``n`` importable part modules under ``tmp/pkgs`` (each get_part_path() waits ``delay`` s, as a slow disk
    would) and the BundledModel that names them."""
    pkgs = tmp / "pkgs"
    pkgs.mkdir(exist_ok=True)
    whole = b""
    for i in range(1, n + 1):
        data = bytes([i]) * (size // n) + os.urandom(17)
        whole += data
        (pkgs / f"{prefix}{i}.bin").write_bytes(data)
        (pkgs / f"{prefix}{i}.py").write_text(
            "import time\nfrom pathlib import Path\n\n\ndef get_part_path():\n"
            f"    time.sleep({delay})\n    return str(Path(__file__).with_name('{prefix}{i}.bin'))\n")
    sys.path.insert(0, str(pkgs))
    m = BundledModel("fake-model", prefix, n, f"{prefix}1..{n}", "fake-model.gguf", len(whole),
                     hashlib.sha256(whole).hexdigest())
    return m, whole


@pytest.fixture
def restore_path():
    before = list(sys.path)
    yield
    sys.path[:] = before


WORKER = """
import json, sys, time
from pathlib import Path
from lingxi.llm.bundled import BundledModel, assemble
m = BundledModel(**json.loads(sys.argv[1]))
go, folder = Path(sys.argv[2]), Path(sys.argv[3])
while not go.exists():
    time.sleep(0.005)
seen = []
path = assemble(m, folder, lambda done, total: seen.append(done))
print(json.dumps({"path": str(path), "assembled": bool(seen)}))
"""


def test_two_processes_starting_at_once_assemble_one_verified_file(tmp_path: Path, restore_path: None) -> None:
    m, whole = fake_parts(tmp_path, delay=0.3)
    folder = tmp_path / "cache" / "models"
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(tmp_path / "pkgs")])}
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, json.dumps(m.__dict__), str(go), str(folder)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) for _ in range(2)]
    time.sleep(1.0)  # both interpreters up and waiting for the signal
    go.touch()
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        outs.append(json.loads(out))
    assert outs[0]["path"] == outs[1]["path"] == str(folder / m.filename)
    assert sorted(o["assembled"] for o in outs) == [False, True]  # the second waited and reused the first's file
    assert (folder / m.filename).read_bytes() == whole
    assert (folder / "fake-model.sha256").read_text().strip() == m.sha256
    assert sorted(p.name for p in folder.iterdir()) == ["fake-model.gguf", "fake-model.gguf.lock", "fake-model.sha256"]


def test_a_corrupt_part_leaves_nothing_behind(tmp_path: Path, restore_path: None) -> None:
    m, _ = fake_parts(tmp_path, prefix="lxbad_part")
    (tmp_path / "pkgs" / "lxbad_part2.bin").write_bytes(b"not what was hashed")
    folder = tmp_path / "models"
    with pytest.raises(BackendUnavailable, match="SHA-256"):
        assemble(m, folder)
    assert [p.name for p in folder.iterdir()] == ["fake-model.gguf.lock"]
    assert cached(m, folder) is None


def test_leftovers_of_a_dead_process_and_a_damaged_file_are_replaced(tmp_path: Path, restore_path: None) -> None:
    m, whole = fake_parts(tmp_path, prefix="lxre_part")
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "fake-model.gguf.part-999999").write_bytes(b"half a model")  # a process killed mid-assembly
    path = assemble(m, folder)
    assert not list(folder.glob("*.part-*")) and path.read_bytes() == whole
    # a damaged file keeps its size and stamp: only verify() can tell, and drops the stamp so it is rebuilt
    with path.open("r+b") as f:
        f.write(b"XXXX")
    assert cached(m, folder) == path
    assert verify(m, folder) is False and cached(m, folder) is None
    calls: list[int] = []
    assemble(m, folder, lambda d, t: calls.append(d))
    assert calls and path.read_bytes() == whole and verify(m, folder) is True


def test_every_home_shares_one_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LINGXI_MODEL_CACHE", raising=False)
    monkeypatch.delenv("LINGXI_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    a, b = Settings.load(tmp_path / "home-a"), Settings.load(tmp_path / "home-b")
    assert a.model_cache == b.model_cache == (tmp_path / "xdg" / "lingxi" / "models").resolve()
    assert a.cache_dir == b.cache_dir == (tmp_path / "xdg" / "lingxi").resolve()
    monkeypatch.setenv("LINGXI_CACHE_DIR", str(tmp_path / "c"))
    assert Settings.load(tmp_path / "home-a").model_cache == (tmp_path / "c" / "models").resolve()
    monkeypatch.delenv("LINGXI_CACHE_DIR")
    assert not str(a.model_cache).startswith(str(a.home))
    monkeypatch.setenv("LINGXI_MODEL_CACHE", str(tmp_path / "elsewhere"))
    assert Settings.load(tmp_path / "home-a").model_cache == (tmp_path / "elsewhere").resolve()
    assert Settings.load(tmp_path / "home-a", model_cache=tmp_path / "x").model_cache == (tmp_path / "x").resolve()
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.delenv("LINGXI_MODEL_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    assert Settings.load(tmp_path / "h").model_cache == (tmp_path / "user" / ".cache" / "lingxi" / "models").resolve()


def test_cli_model_list_names_the_shared_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    from lingxi.cli.main import main

    monkeypatch.setenv("LINGXI_MODEL_CACHE", str(tmp_path / "models"))
    for home in ("h1", "h2"):
        assert main(["--home", str(tmp_path / home), "model", "list", "--json"]) == 0
        out = json.loads(capsys.readouterr().out)
        assert out["cache"] == str((tmp_path / "models").resolve())
        assert {r["cached"] for r in out["models"]} == {False}
    with pytest.raises(BadInput, match="neither a bundled model"):
        resolve_model("no-such-model", tmp_path / "models")

"""Every code block of README.md runs (or is skipped here with its reason), and none writes into
tracked files or folders git does not ignore.

Bash blocks are split into commands (lines, then ``&&``); Python blocks run as scripts. Each
command must match a rule of ``RULES``: run it, or skip it with a stated reason (a new README
command with no rule fails :func:`test_every_readme_command_has_a_rule`). Commands run from the
repository root with ``EMOZOO_DATA_DIR``; those that read the corpora carry the ``data`` marker.
The README's install commands (venv, activate, pip) are excluded: CI runs them before the tests.
"""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
INSTALL = re.compile(r"^(python3 -m venv|\. \.venv/bin/activate|pip install)")

# (pattern, action): "run", "data" (run when EMOZOO_DATA_DIR is set), or "skip: <reason>"
RULES = [
    (r"^python -m pytest", "skip: the whole test suite (CI runs it)"),
    (r"^EMOZOO_DATA_DIR=\S+ python -m pytest", "skip: the whole test suite (CI runs it)"),
    (r"^export EMOZOO_DATA_DIR=", "data"),                    # checked: the folder the following commands read
    (r"^python -m emozoo\.predict --model \S+ \.\./shared/data/", "data"),
    (r"^python -m emozoo\.predict --model \S+ examples/", "run"),
    (r"^python -m emozoo\.predict --model emotion_speech --adapt ", "skip: adapts on a whole corpus (minutes); "
                                                                    "tests/models/emotion_speech cover --adapt"),
    (r"^python -m emozoo\.data inspect --corpus csv --manifest examples/", "run"),
    (r"^python -m emozoo\.data inspect --corpus \w+$", "data"),
    (r"^python -m emozoo\.data manifest --corpus iemocap_text --out runs/", "data"),
    (r"^python -m emozoo\.data write --corpus emodb --label-set 4class --out tfrecords/emodb$", "data"),
    (r"^python -m emozoo\.validate tfrecords/emodb$", "data"),
    (r"^python -m emozoo\.data write --corpus casia", "skip: writes 1 200 decoded clips (minutes); the emodb write runs"),
    (r"^python -m emozoo\.validate tfrecords/new", "skip: `tfrecords/new` stands for the user's own store"),
    (r"^python -m emozoo\.data audit --emobox", "data"),
    (r"^python -m emozoo\.weights (install|verify|list)", "run"),   # installed by .ci/run first: a no-op there
    (r"^python -m emozoo\.extract ", "skip: openSMILE over a whole corpus (minutes); tests/train/test_store_suggestions.py "
                                     "runs the extract command on fixture clips"),
    (r"^python -m emozoo\.train --list \| head -40$", "run"),
    (r"^python -m emozoo\.train --list$", "run"),
    (r"^python -m emozoo\.publish --list$", "run"),
    (r"^python -m emozoo\.train ", "skip: training runs (minutes); tests/train cover the driver on fixtures"),
    (r"^python -m emozoo\.report ", "skip: reads the runs of the train command before it (tests/report cover it)"),
    (r"^python -m emozoo\.evaluate ", "skip: needs a finished training run (or trains: minutes)"),
    (r"^python -m emozoo\.explain .*face\.tiff", "skip: `face.tiff` stands for the user's image; no face is shipped"),
    (r"^python (pipelines|benchmarks)/", "skip: table pipelines and benchmarks (minutes to hours)"),
    (r"^tensorboard ", "skip: a server"),
    (r"^TF_CONFIG=", "skip: two cooperating worker processes"),
    # python blocks, by their first statement
    (r"^py: from emozoo\.data\.corpora import load_manifest", "data"),
    (r"^py: import emozoo\nemozoo\.list_models\(\)", "run"),
    (r"^py: model = emozoo\.load\(\"dann_iemocap\"\)", "run"),
    (r"^py: model = emozoo\.load\(\"emodal_ravdess_av\"\)", "run"),
    (r"^py: import emozoo\nemozoo\.load\(\"ssgan_speech\"\)", "skip: `face.jpg` stands for the user's image; no face is shipped"),
    (r"^py: model = emozoo\.load\(\"face_cnn_ckplus\"\)", "skip: `face.png` stands for the user's image; no face is shipped"),
]
# names the README's Python snippets use as placeholders for the reader's own data
PRELUDE = "import emozoo\nconversation = [('A', 'I got the job!'), ('B', 'That is amazing.')]\n"


def readme_commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    out = []
    for lang, body in re.findall(r"```(\w*)\n(.*?)```", text, flags=re.S):
        if lang == "python":
            out.append("py: " + body.strip())
            continue
        for line in body.replace("\\\n", " ").splitlines():
            line = re.sub(r"\s+#.*$", "", line).strip()
            if not line or line.startswith("#"):
                continue
            if not line.startswith(("python", ".", "pip", "export", "EMOZOO", "tensorboard", "TF_CONFIG", "bash")):
                continue                                   # usage synopses, output listings
            for cmd in line.split(" && "):
                cmd = cmd.strip().rstrip("&").strip()
                if not INSTALL.match(cmd):
                    out.append(cmd)
    return out


def rule(cmd: str) -> str | None:
    for pattern, action in RULES:
        if re.match(pattern, cmd, flags=re.S):
            return action
    return None


COMMANDS = readme_commands()


def test_every_readme_command_has_a_rule():
    assert COMMANDS, "no README commands found"
    missing = [c for c in COMMANDS if rule(c) is None]
    assert not missing, f"README commands without a rule in tests/test_readme.py: {missing}"


def _tracked_state() -> str:
    return subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=REPO, capture_output=True,
                          text=True).stdout


@pytest.fixture(scope="module")
def env():
    return {**os.environ, "PYTHONPATH": str(REPO)}


def _params():
    out = []
    for i, cmd in enumerate(COMMANDS):
        action = rule(cmd) or "skip: no rule (see test_every_readme_command_has_a_rule)"
        marks = [pytest.mark.data] if action == "data" else []
        if action.startswith("skip"):
            marks.append(pytest.mark.skip(reason=action[5:].strip()))
        out.append(pytest.param(cmd, action, id=f"{i:02d}-{cmd[:40]}", marks=marks))
    return out


@pytest.mark.parametrize("cmd, action", _params())
def test_readme_command_runs_and_writes_nothing_tracked(cmd, action, env, request):
    if action == "data":
        data = os.environ.get("EMOZOO_DATA_DIR")
        if not data:
            pytest.skip("EMOZOO_DATA_DIR is not set")
        env = {**env, "EMOZOO_DATA_DIR": str(Path(data).resolve())}
    if cmd.startswith("export "):
        key, _, value = cmd[len("export "):].partition("=")
        assert key == "EMOZOO_DATA_DIR" and (REPO / value).is_dir(), cmd
        return
    before = _tracked_state()
    if cmd.startswith("py: "):
        argv = [sys.executable, "-c", PRELUDE + cmd[4:]]
    else:
        import shlex
        argv = shlex.split(cmd)
        assert argv[0] == "python", cmd
        argv[0] = sys.executable
    done = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{cmd}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    changed = {ln for ln in set(_tracked_state().splitlines()) - set(before.splitlines())
               # edits of source files are someone editing the tree (a shared working copy), not a README command
               if not (ln[:2] in (" M", "??") and ln.endswith((".py", ".md")))}
    assert not changed, f"{cmd} wrote into tracked or unignored paths: {sorted(changed)}"

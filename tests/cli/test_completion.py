"""``edgekit completion bash|zsh``: the script comes from the parsers and completes in a real bash."""
from __future__ import annotations

import shutil
import subprocess

import pytest

COMPLETE = """source {script}
complete_words() {{ COMP_WORDS=("$@"); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); COMPREPLY=(); _edgekit;
                    echo "${{COMPREPLY[*]}}"; }}
complete_words edgekit ev
complete_words edgekit data check --d
complete_words edgekit export m --target cpu-x86-i
complete_words edgekit profile --pe
complete_words edgekit profile --peer m
"""


def test_bash_script_completes_verbs_flags_and_choices(run_cli, tmp_path):
    if shutil.which("bash") is None:
        pytest.skip("bash is not installed")
    code, out, _ = run_cli("completion", "bash")
    script = tmp_path / "edgekit.bash"
    script.write_text(out)
    done = subprocess.run(["bash", "-c", COMPLETE.format(script=script)], capture_output=True, text=True,
                          cwd=tmp_path, check=True)
    assert code == 0 and done.stdout.splitlines() == ["eval", "--decode", "cpu-x86-int8", "--peer", "mediapipe"]


def test_zsh_script_uses_bash_completion(run_cli):
    code, out, _ = run_cli("completion", "zsh")
    assert code == 0 and out.startswith("autoload -U +X bashcompinit && bashcompinit\n")
    assert out.rstrip().endswith("complete -o filenames -F _edgekit edgekit")

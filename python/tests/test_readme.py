"""The README's Python example runs as printed, and computes what its comments say."""

import os
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def readme_example() -> str:
    text = (REPO / "README.md").read_text()
    match = re.search(
        r"<!-- python example -->\n```python\n(.*?)```\n<!-- /python example -->", text, re.S
    )
    assert match, "README.md has no python example block"
    return match.group(1)


def test_readme_example_runs(monkeypatch):
    monkeypatch.chdir(REPO)
    scope: dict = {}
    exec(compile(readme_example(), "README.md", "exec"), scope)
    board = scope["board"].to_pandas()
    assert len(board) == 59, "LLMFAO compares 59 models"
    assert list(board["rank"][:3]) == [1, 2, 3]
    assert (board["ci_lower"] < board["rating"]).all()
    assert (board["rating"] < board["ci_upper"]).all()
    [(alpha,)] = scope["alpha"]
    assert 0.0 < alpha < 1.0
    per_prompt = scope["per_prompt"]
    assert per_prompt.columns[0] == "prompt"
    assert per_prompt["prompt"].n_unique() > 1
    assert scope["db"].tables() == ["llmfao_file", "votes"]
    assert os.path.samefile(Path.cwd(), REPO)

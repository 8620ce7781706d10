"""The project's promises about itself: CI runs exactly what the README tells a user to run."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _readme_test_command() -> str:
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"```bash\n(.*?)\n```", readme, flags=re.S)
    matches = [c.strip() for c in commands if "pytest" in c]
    assert len(matches) == 1, f"README should show exactly one test command, found {matches}"
    return matches[0]


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert _readme_test_command() in [line.strip() for line in ci]


def test_torch_is_pinned_to_the_cpu_wheel():
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'"torch==2\.13\.0"', pyproject), "the test extra must pin torch==2.13.0"


def test_core_depends_on_numpy_only():
    pyproject = (ROOT / "pyproject.toml").read_text()
    deps = re.search(r"^dependencies = \[(.*?)\]", pyproject, flags=re.M | re.S).group(1)
    assert [d.strip().strip('"').split(">")[0].split("=")[0] for d in deps.split(",") if d.strip()] == ["numpy"]

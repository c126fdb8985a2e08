"""The README's promises that CI depends on."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ci_runs_exactly_the_readme_test_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = re.findall(r"```sh\n\s*(.+?)\n\s*```", readme)
    test_command = next(command for command in commands if "pytest" in command)
    ci_lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert test_command.strip() in [line.strip() for line in ci_lines]


def test_templates_and_static_have_no_external_assets():
    pattern = re.compile(r'(src|href)="(https?:)?//')
    for folder in ("templates", "static"):
        for path in (ROOT / folder).rglob("*"):
            if path.is_file() and path.suffix in {".html", ".css", ".js", ".svg"}:
                assert not pattern.search(path.read_text(encoding="utf-8")), path


def test_every_template_and_static_folder_is_installed():
    """A regular install copies templates/ and static/ through setup.cfg's data_files."""
    setup_cfg = (ROOT / "setup.cfg").read_text(encoding="utf-8")
    for folder in ("templates", "static"):
        for path in (ROOT / folder).rglob("*"):
            if path.is_file():
                relative = path.relative_to(ROOT)
                pattern = f"{relative.parent.as_posix()}/*{path.suffix}"
                assert pattern in setup_cfg, f"{relative} is not in setup.cfg [options.data_files]"

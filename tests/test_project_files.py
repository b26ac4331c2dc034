"""The project's own files agree with each other."""

import re


from conftest import ROOT


def _pins(lines):
    out = {}
    for line in lines:
        line = line.strip().lstrip("- ").strip()
        m = re.match(r"^([A-Za-z0-9_.\-\[\]]+)==([^\s]+)$", line)
        if m:
            out[re.sub(r"\[.*\]", "", m.group(1)).lower()] = m.group(2)
    return out


def test_environment_yml_mirrors_requirements():
    req = _pins((ROOT / "requirements.txt").read_text().splitlines())
    env = _pins((ROOT / "environment.yml").read_text().splitlines())
    env["torch"] = env["torch"].replace("+cpu", "")
    assert req == env


def test_torch_is_pinned_to_the_cpu_build():
    assert "torch==2.13.0" in (ROOT / "requirements.txt").read_text().splitlines()


def test_binder_uses_the_same_environment_and_start_execs():
    assert (ROOT / "binder" / "environment.yml").resolve() == (ROOT / "environment.yml").resolve()
    start = (ROOT / "binder" / "start").read_text()
    assert start.rstrip().endswith('exec "$@"')
    assert "set -e" in (ROOT / "binder" / "postBuild").read_text()


def test_readme_names_the_two_commands_and_the_ci_calls_one():
    readme = (ROOT / "README.md").read_text()
    assert "make lab" in readme and "make test" in readme and "mybinder.org" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text()

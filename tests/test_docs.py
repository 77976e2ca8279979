"""The documentation runs: every docstring example of the package (doctest), and the code of
docs/extending.md ("Extending xpgrad"), in a fresh process so its primitives and backends do not
leak into the other tests. The README's and docs' relative links lead to files that exist, and
tests/docs_text.py finds sections wherever they live."""
from __future__ import annotations

import doctest
import importlib
import pkgutil
import re
import subprocess
import sys

import pytest

import docs_text
import xpgrad
import xpgrad.backends
from docs_text import ROOT, pages, section

# the Numba modules' doctests run in test_numba_backend.py; the CuPy ones need a device
SKIP = ("xpgrad.backends.numba", "xpgrad.backends.cupy")
# the backends are a package of their own directory (pyproject's package-dir), which a walk of
# xpgrad's directory does not reach in an installed checkout
MODULES = sorted({m.name for package in (xpgrad, xpgrad.backends)
                  for m in pkgutil.walk_packages(package.__path__, package.__name__ + ".")
                  if not m.name.startswith(SKIP)} | {"xpgrad.backends"})


# the examples show what a user who names no backend sees: numpy, whatever $XPGRAD_BACKEND says
@pytest.mark.usefixtures("numpy_default")
@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, f"{result.failed} docstring example(s) of {name} failed"


def test_testing_examples_leave_the_backend_registry_as_they_found_it(clean_backends):
    # xg.testing's example registered "strict" for the rest of the process
    pytest.importorskip("array_api_strict")
    import xpgrad.testing

    registry = clean_backends
    for table in (registry._factories, registry._instances, registry._failures):
        table.pop("strict", None)
    xpgrad.get_backend("numpy")      # made on first use (the examples' arrays): not the point
    before = {table: dict(getattr(registry, table))
              for table in ("_factories", "_instances", "_failures")}
    assert doctest.testmod(xpgrad.testing, optionflags=doctest.ELLIPSIS).failed == 0
    assert {table: dict(getattr(registry, table)) for table in before} == before
    # a name registered before the block keeps its factory after it
    xpgrad.register_backend("strict", "xpgrad.backends.numpy:NumpyBackend")
    with xpgrad.testing.registered_backend("strict", xpgrad.testing.StrictBackend) as inside:
        assert isinstance(inside, xpgrad.testing.StrictBackend)
    assert registry._factories["strict"] == "xpgrad.backends.numpy:NumpyBackend"
    assert "strict" not in registry._instances


def test_readme_extending_section_runs():
    blocks = re.findall(r"```python\n(.*?)```", section("Extending xpgrad"), re.S)
    assert len(blocks) >= 4, "the section lost its examples"
    res = subprocess.run([sys.executable, "-c", "\n".join(blocks)], capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-3000:]
    printed = res.stdout.splitlines()
    assert printed[0].startswith("Tensor(") and "backend=fastnumpy" in printed[0]
    assert printed[1:] == ["[0.5, -1.5]", "strict"]


def test_docs_text_examples_run():
    result = doctest.testmod(docs_text)
    assert result.attempted > 0 and result.failed == 0


def test_a_section_is_found_on_its_page_and_ends_at_the_next_heading_of_its_level(tmp_path,
                                                                                 monkeypatch):
    (tmp_path / "docs").mkdir()
    (tmp_path / "README.md").write_text("# p\n\n## Intro\n\nhello\n\n## Other\n")
    (tmp_path / "docs" / "a.md").write_text("# Page A\n\n## One\n\n```python\n# not a "
                                            "heading\n```\n\n### Sub\n\nx\n\n## Two\n")
    (tmp_path / "docs" / "b.md").write_text("# Page B\n\n## One\n")
    monkeypatch.setattr(docs_text, "ROOT", tmp_path)
    assert docs_text.section("Intro") == "## Intro\n\nhello\n\n"
    assert docs_text.section("Sub") == "### Sub\n\nx\n\n"
    assert docs_text.section("Page A").endswith("## Two\n")         # a page: all of it
    with pytest.raises(LookupError, match="0 sections"):        # a comment in a code block
        docs_text.section("not a heading")
    with pytest.raises(LookupError, match=r"2 sections titled 'One' in \['docs/a.md', "
                                          r"'docs/b.md'\]"):
        docs_text.section("One")
    with pytest.raises(LookupError, match="0 sections titled 'Nowhere'"):
        docs_text.section("Nowhere")
    assert docs_text.text_from("hello") == "hello\n\n## Other\n"
    with pytest.raises(LookupError, match="in 2 pages"):
        docs_text.text_from("## One")


def test_relative_links_of_the_readme_and_docs_lead_to_files():
    broken = []
    for page in pages():
        prose = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
        for target in re.findall(r"\]\(([^)\s]+)\)", prose):
            path = target.split("#")[0]
            if path and not re.match(r"[a-z]+:", path) and not (page.parent / path).exists():
                broken.append(f"{page.relative_to(ROOT)}: {target}")
    assert broken == []


def test_every_docs_page_is_in_the_readme_map():
    readme = (ROOT / "README.md").read_text()
    unlisted = [p.name for p in pages()[1:] if f"(docs/{p.name})" not in readme]
    assert unlisted == []

"""Every ```python block of README.md and docs/*.md runs, so the docs cannot rot.

The blocks of one file run in order, in one namespace, in a temporary directory
(so that files they write land there), with examples/ on sys.path. Blocks that
must not run (shell commands, pseudo-code) are marked ```console or ```text.

A block marked ```text output shows what the python block just before it prints,
and must match it exactly (generated code shown in the docs is the code adcompile
generates today). A block marked ```console run is a terminal session: each
`$ adcompile ...` line runs (as `python -m adcompile ...`, with NO_COLOR set, in
the same directory as the page's python blocks, where examples/ is linked) and
must print the lines that follow it. A block marked ```python file=NAME.py is
also written to NAME.py there, for the sessions to read, and runs from that file:
its line numbers are the file's, as for a reader who pastes it into NAME.py.
After a change to code generation or to the command line, rewrite those blocks with

    python tests/test_docs.py --update

and read the diff.

adcompile reads functions' source, so a block cannot simply be exec'd from a
string: each file's blocks are written to a .py file, every block at its own
line numbers of the Markdown file, and compiled under that file's name. A
failure's traceback therefore names the line of the Markdown file.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([\w+-]*)\s*(.*)$")


@dataclass
class Block:
    lang: str  # the info string's first word: python, console, text...
    extra: str  # the rest of the info string ("output" for an output block)
    start: int  # 1-based line number of the block's first line of code
    lines: list[str]

    @property
    def is_output(self) -> bool:
        return self.lang == "text" and self.extra == "output"

    @property
    def is_session(self) -> bool:
        return self.lang == "console" and self.extra == "run"

    @property
    def runs(self) -> bool:
        return self.lang == "python" or self.is_session


def code_blocks(text: str) -> list[Block]:
    """The fenced blocks of a Markdown text."""
    blocks = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        found = FENCE.match(lines[i])
        if not found:
            i += 1
            continue
        indent, fence, lang, extra = found.groups()
        body = []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(fence):
            body.append(lines[i][len(indent) :] if lines[i].startswith(indent) else lines[i])
            i += 1
        blocks.append(Block(lang.lower(), extra.strip(), i - len(body) + 1, body))
        i += 1
    return blocks


def run_page(page: Path, workdir: Path) -> list[tuple[Block, str]]:
    """Run the python blocks and terminal sessions of ``page`` in ``workdir``, in order:
    [(block, what it printed)] (for a session: the session as it should read)."""
    blocks = [b for b in code_blocks(page.read_text(encoding="utf-8")) if b.runs]
    python = [b for b in blocks if b.lang == "python"]
    if not blocks:
        return []
    # one file holding every python block at its own lines, for inspect.getsource
    # and tracebacks
    length = max([b.start + len(b.lines) for b in python], default=0)
    lines = [""] * length
    for b in python:
        lines[b.start - 1 : b.start - 1 + len(b.lines)] = b.lines
    name = "docs_" + re.sub(r"\W", "_", str(page.relative_to(ROOT)))
    path = workdir / f"{name}.py"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    if not (workdir / "examples").exists():
        (workdir / "examples").symlink_to(ROOT / "examples")
    namespace = {"__name__": name, "__file__": str(path)}
    printed = []
    for b in blocks:
        if b.is_session:
            printed.append((b, "\n".join(run_session(b.lines, workdir))))
            continue
        if b.extra.startswith("file="):
            # the block is that file: it runs from it, at the line numbers a reader who
            # pastes it into a file sees (in tracebacks and generated comments)
            own = workdir / b.extra[len("file=") :]
            own.write_text("\n".join(b.lines) + "\n")
            code = compile(own.read_text(), str(own), "exec")
        else:
            code = compile("\n" * (b.start - 1) + "\n".join(b.lines) + "\n", str(path), "exec")
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(code, namespace)  # running the docs is the point
        printed.append((b, out.getvalue()))
    return printed


def session_commands(lines: list[str]) -> list[list[str]]:
    """The commands of a terminal session: each `$ ` line, with its continuation lines."""
    commands = []
    for line in lines:
        if line.startswith("$ "):
            commands.append([line])
        elif commands and commands[-1][-1].endswith("\\"):
            commands[-1].append(line)
    return commands


def run_session(lines: list[str], workdir: Path) -> list[str]:
    """Run each `$ adcompile ...` command of a session; the session with today's output."""
    out = []
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "100", "PYTHONPATH": str(ROOT)}
    for command in session_commands(lines):
        text = " ".join(line.rstrip("\\").strip() for line in command)[2:]
        argv = shlex.split(text)
        assert argv[0] == "adcompile", f"a session runs adcompile commands only, not {text!r}"
        proc = subprocess.run(
            [sys.executable, "-m", "adcompile", *argv[1:]],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=workdir,
            env=env,
            timeout=120,
        )
        out += command
        out += _clean(proc.stdout) if proc.stdout else []
    return out


@contextlib.contextmanager
def docs_environment(workdir: Path):
    """The working directory, sys.path and matplotlib backend the docs' blocks run with;
    rules the blocks register (docs/custom-rules.md does) are forgotten afterwards."""
    from adcompile.rules import load_optional, registry

    here, path, backend = os.getcwd(), list(sys.path), os.environ.get("MPLBACKEND")
    # (the rules of optional libraries first: loaded once, they must outlive the restore)
    load_optional(import_libraries=True)
    saved = registry.snapshot()
    os.chdir(workdir)
    sys.path[:0] = [str(workdir), str(ROOT / "examples")]
    os.environ["MPLBACKEND"] = "Agg"
    try:
        yield
    finally:
        os.chdir(here)
        sys.path[:] = path
        if backend is None:
            os.environ.pop("MPLBACKEND", None)
        else:
            os.environ["MPLBACKEND"] = backend
        registry.restore(saved)


def expected_outputs(page: Path) -> list[tuple[Block, Block]]:
    """(python block, the output block right after it) pairs of ``page``."""
    blocks = code_blocks(page.read_text(encoding="utf-8"))
    pairs = []
    for before, block in zip(blocks, blocks[1:]):
        if block.is_output:
            assert before.lang == "python", (
                f"{page.relative_to(ROOT)}:{block.start - 1}: an output block must follow "
                "a python block"
            )
            pairs.append((before, block))
    return pairs


def _clean(text: str) -> list[str]:
    return [line.rstrip() for line in text.rstrip("\n").split("\n")]


# ------------------------------------------------------------------------ tests


def test_the_fence_parser():
    text = (
        "intro\n```python\nx = 1\n```\n\n```console\n$ ls\n```\n"
        "```python\nprint(2)\n```\n```text output\n2\n```\n"
    )
    assert session_commands(["$ adcompile a \\", "  --b", "out", "$ adcompile c", "more"]) == [
        ["$ adcompile a \\", "  --b"],
        ["$ adcompile c"],
    ]
    blocks = code_blocks(text)
    assert [(b.lang, b.extra, b.start, b.lines) for b in blocks] == [
        ("python", "", 3, ["x = 1"]),
        ("console", "", 7, ["$ ls"]),
        ("python", "", 10, ["print(2)"]),
        ("text", "output", 13, ["2"]),
    ]
    assert blocks[3].is_output and not blocks[1].is_output


def test_every_block_is_marked():
    """An unmarked fence would silently never run: say ```python, ```console or ```text."""
    for page in PAGES:
        for b in code_blocks(page.read_text(encoding="utf-8")):
            assert b.lang, (
                f"{page.relative_to(ROOT)}:{b.start - 1}: a code block without a language"
            )


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_blocks_run_and_print_what_the_page_shows(page, tmp_path):
    if "from scipy" in page.read_text(encoding="utf-8"):
        pytest.importorskip("scipy")  # (scipy is optional: the pages that use it need it)
    with docs_environment(tmp_path):
        printed = run_page(page, tmp_path)
    if not printed:
        pytest.skip("nothing to run")
    # keyed by line, not id(): expected_outputs parses the page again, into new blocks
    outputs = {p.start: o for p, o in expected_outputs(page)}
    for block, out in printed:
        shown = block if block.is_session else outputs.get(block.start)
        if shown is None:
            continue
        where = f"{page.relative_to(ROOT)}:{shown.start - 1}"
        assert _clean(out) == _clean("\n".join(shown.lines)), (
            f"{where}: the page shows other output than the code prints now; "
            "run `python tests/test_docs.py --update` and read the diff"
        )


def test_output_blocks_follow_python_blocks():
    for page in PAGES:
        expected_outputs(page)


LINK = re.compile(r"\]\(([^)#\s]+)(#[^)]*)?\)")

# Pages that issue 6 has others writing while the rest of the docs link to them
# already. A link to one of these that is still missing is an expected failure;
# once the page exists the link is checked like any other. Empty this set when
# they have landed.
PENDING: set[str] = set()


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_point_at_files(page):
    missing = set()
    for target, _ in LINK.findall(page.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+:", target):
            continue  # http:, https:, mailto:
        path = (page.parent / target).resolve()
        if not path.exists():
            missing.add(str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else target)
    assert not missing - PENDING, f"{page.relative_to(ROOT)} links to {sorted(missing)}"
    if missing:
        pytest.xfail(f"links to pages still being written: {', '.join(sorted(missing))}")


def test_the_docs_index_links_every_page():
    index = (ROOT / "docs" / "index.md").read_text(encoding="utf-8")
    for page in sorted((ROOT / "docs").glob("*.md")):
        if page.name != "index.md":
            assert f"]({page.name})" in index, f"docs/index.md does not link {page.name}"


def test_the_readme_links_the_docs_index():
    assert "](docs/index.md)" in (ROOT / "README.md").read_text(encoding="utf-8")


# ----------------------------------------------------------------------- update


def update(pages: list[Path]) -> None:
    """Rewrite every output block and terminal session with what the code prints now.

    Generated code names the lines of the page it comes from, and a rewritten
    block can move the lines below it: repeat until nothing changes."""
    for page in pages:
        for _ in range(10):
            blocks = code_blocks(page.read_text(encoding="utf-8"))
            if not any(b.is_output or b.is_session for b in blocks):
                break
            with tempfile.TemporaryDirectory() as tmp, docs_environment(Path(tmp)):
                printed = {b.start: out for b, out in run_page(page, Path(tmp))}
            targets = [(b, b) for b in blocks if b.is_session] + expected_outputs(page)
            text = page.read_text(encoding="utf-8")
            lines = text.split("\n")
            # from the end of the page, so that line numbers stay valid
            for source, shown in sorted(targets, key=lambda t: -t[1].start):
                new = _clean(printed[source.start])
                lines[shown.start - 1 : shown.start - 1 + len(shown.lines)] = new
            if "\n".join(lines) == text:
                break
            page.write_text("\n".join(lines), encoding="utf-8")
            print(f"updated {page.relative_to(ROOT)}")


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        raise SystemExit("usage: python tests/test_docs.py --update")
    update(PAGES)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_line_comments_after_a_file_block_name_the_files_lines(page):
    """The generated code shown after a ```python file=NAME.py block names lines of
    NAME.py as a reader who pasted the block sees them, not lines of the page."""
    for before, output in expected_outputs(page):
        if not before.extra.startswith("file="):
            continue
        for n, text in re.findall(r"# line (\d+): (.*)", "\n".join(output.lines)):
            assert before.lines[int(n) - 1].strip() == text.strip(), (page, n, text)


def _architecture_sections() -> dict[str, str]:
    """docs/architecture.md's module map: each ``**`name`**`` that opens a line, and
    the text up to the next one."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    marks = list(re.finditer(r"^\*\*`([\w/.]+)`\*\*", text, re.M))
    return {
        m.group(1): text[m.start() : marks[i + 1].start() if i + 1 < len(marks) else len(text)]
        for i, m in enumerate(marks)
    }


def test_the_architecture_page_names_every_module():
    """Every module of the package has its paragraph in the module map (``**`api.py`**``),
    and every module of a subpackage is named in its package's paragraph
    (``rearranging.py`` in that of ``**`runtime/`**``)."""
    sections = _architecture_sections()
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    package = ROOT / "adcompile"
    missing = []
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package)
        if len(rel.parts) == 1:
            if f"**`{rel.name}`**" not in text:
                missing.append(str(rel))
        elif rel.name != "__init__.py":
            section = sections.get(f"{rel.parts[0]}/", "")
            if f"`{rel.name}`" not in section:
                missing.append(str(rel))
    assert missing == []
    assert {"runtime/", "rules/", "reverse/", "normalize/", "inplace/"} <= sections.keys()

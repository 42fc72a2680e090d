"""The README and docs/*.md: every relative link resolves (the file, and its #anchor), and every
`kind COMMAND --option` their code blocks show exists in the command's parser."""

import re
import shlex
from pathlib import Path

import pytest
from conftest import ROOT

from kind.cli import build_parser

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)|!\[[^\]]*\]\(([^)\s]+)\)")


def page_id(path: Path) -> str:
    return str(path.relative_to(ROOT))


def without_code_blocks(text: str) -> str:
    for _, body in code_blocks(text):
        text = text.replace(body, "")
    return text


def without_code(text: str) -> str:
    """The text outside fenced code blocks and inline code."""
    return re.sub(r"`[^`\n]*`", "", without_code_blocks(text))


def anchors(path: Path) -> set[str]:
    """GitHub's anchors of a page's headings: lower case, punctuation dropped, spaces to hyphens."""
    found = set()
    for heading in re.findall(r"^#{1,6} (.+)$", without_code_blocks(path.read_text()), flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        found.add(slug)
    return found


def links(path: Path) -> list[str]:
    return [a or b for a, b in LINK.findall(without_code(path.read_text()))]


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_relative_links_resolve(page):
    broken = []
    for target in links(page):
        if re.match(r"^[a-z]+:", target):  # http:, https:, mailto:
            continue
        file, _, anchor = target.partition("#")
        resolved = (page.parent / file).resolve() if file else page
        if not resolved.exists():
            broken.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            broken.append(f"{target}: no heading #{anchor} in {resolved.name}")
    assert broken == []


def test_every_doc_page_is_reachable_from_the_readme():
    reachable, todo = set(), [ROOT / "README.md"]
    while todo:
        page = todo.pop()
        if page in reachable:
            continue
        reachable.add(page)
        for target in links(page):
            file = target.partition("#")[0]
            path = (page.parent / file).resolve() if file and not re.match(r"^[a-z]+:", target) else None
            if path is not None and path.suffix == ".md" and path.is_file() and ROOT in path.parents:
                todo.append(path)
    assert {p.resolve() for p in PAGES} - reachable == set()


def code_blocks(text: str) -> list[tuple[str, str]]:
    """(language, body) of each fenced code block, in order."""
    blocks, language, body = [], None, []
    for line in text.splitlines():
        if line.startswith("```"):
            if language is None:
                language, body = line[3:].strip(), []
            else:
                blocks.append((language, "\n".join(body)))
                language = None
        elif language is not None:
            body.append(line)
    return blocks


def shown_commands(page: Path) -> list[list[str]]:
    """The `kind ...` command lines of a page's shell code blocks (also `-m kind ...` under torchrun), as words."""
    commands = []
    for language, block in code_blocks(page.read_text()):
        if language not in ("", "bash", "sh"):
            continue
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split(" #", 1)[0]
            try:
                words = shlex.split(line, comments=True)
            except ValueError:  # a quote closed on another line
                words = line.split()
            for start, word in enumerate(words):
                if word == "kind" and (start == 0 or words[start - 1] in ("-m", "&&")):
                    commands.append(words[start + 1:])
                    break
    return commands


def options_of(parser) -> set[str]:
    return {option for action in parser._actions for option in action.option_strings}


SUBPARSERS = next(action for action in build_parser()._actions if action.dest == "command").choices


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_shown_commands_and_options_exist(page):
    wrong = []
    for words in shown_commands(page):
        if not words or words[0].startswith("-"):
            continue
        command = words[0]
        if command not in SUBPARSERS:
            wrong.append(f"kind {command}: no such command")
            continue
        known = options_of(SUBPARSERS[command])
        wrong += [f"kind {command} {w}: no such option" for w in words[1:]
                  if w.startswith("--") and w.split("=")[0] not in known]
    assert wrong == []


def test_the_command_check_sees_a_wrong_option(tmp_path, monkeypatch):
    page = tmp_path / "page.md"
    page.write_text("```bash\nkind enhance in/ -o out/ --no-such-option\nkind frobnicate\n```\n")
    assert shown_commands(page) == [["enhance", "in/", "-o", "out/", "--no-such-option"], ["frobnicate"]]
    with pytest.raises(AssertionError):
        test_shown_commands_and_options_exist(page)


# --- statements the pages make (issue 29, items 16-18) --------------------------------------------

SHIPPED_CLAIMS = [  # phrasings that say which version is the shipped one
    re.compile(r"[Ss]hipped (?:weights |networks |DecomNet |version )?\(?`?(v\d+\.\d+)(?!'s)"),
    re.compile(r"`?(v\d+\.\d+)`? \((?:the )?shipped(?: version| weights)?\)"),
    re.compile(r"(v\d+\.\d+)`? are the shipped weights"),
    re.compile(r"the shipped\s+ones: `(v\d+\.\d+)`"),
]
CLAIM_PAGES = [*PAGES, ROOT / "app.py", ROOT / "kind" / "weights" / "pretrained" / "README.md"]


@pytest.mark.parametrize("page", CLAIM_PAGES, ids=page_id)
def test_statements_about_the_shipped_weights_name_the_shipped_version(page):
    from kind.constants import SHIPPED_VERSION

    text = page.read_text()
    claims = [match for pattern in SHIPPED_CLAIMS for match in pattern.findall(text)]
    assert [version for version in claims if version != SHIPPED_VERSION] == []


def test_the_shipped_claim_check_sees_a_stale_version():
    stale = "With the shipped weights v0.1 the ratio stays; v0.2 (shipped) too; the shipped\nones: `v0.1`."
    assert [m for p in SHIPPED_CLAIMS for m in p.findall(stale)] == ["v0.1", "v0.2", "v0.1"]


def test_pages_that_use_lol_paths_say_where_lol_comes_from():
    data_section = ROOT / "docs" / "evaluation.md"
    text = data_section.read_text()
    assert "## The data" in text and "https://daooshee.github.io/BMVC2018website/" in text
    for words in ("LOLdataset/our485", "LOLdataset/eval15", "../shared/data/lol/eval15"):
        assert words in text
    for page in PAGES:
        if page != data_section and "LOLdataset/" in page.read_text():
            assert "evaluation.md#the-data" in page.read_text(), f"{page_id(page)} uses LOLdataset/ without the link"
    assert (ROOT / "configs").is_dir()  # the configs' default train_dir is the one the section names
    from kind.train.config import TrainConfig

    assert TrainConfig.train_dir == "data/LOLdataset/our485" and TrainConfig.train_dir in text


def test_the_readme_gives_pytorchs_cpu_only_install_beside_the_default():
    blocks = [body for language, body in code_blocks((ROOT / "README.md").read_text()) if language == "bash"]
    assert any(line.startswith("pip install torch --index-url https://download.pytorch.org/whl/cpu")
               for body in blocks for line in body.splitlines())
    assert any(line.startswith("pip install -e . && kind demo") for body in blocks for line in body.splitlines())


def test_app_py_names_no_file_the_repository_lacks():
    import ast

    docstring = ast.get_docstring(ast.parse((ROOT / "app.py").read_text()))
    for name in re.findall(r"\b([\w-]+\.(?:txt|toml|cfg|yaml))\b", docstring):
        assert (ROOT / name).exists() or f"has no\n{name}" in docstring or f"has no {name}" in docstring, name

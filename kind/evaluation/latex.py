"""Markdown tables as LaTeX (``kind table --out-tex``): each pipe table becomes a booktabs
``tabular``; headings and notes between them become LaTeX comments, so the file can be
``\\input`` as it is (with ``\\usepackage{booktabs}``)."""

from __future__ import annotations

LATEX_SPECIALS = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def escape(text: str) -> str:
    """``text`` with LaTeX's special characters escaped."""
    return "".join(LATEX_SPECIALS.get(char, char) for char in text)


def _cells(line: str) -> list[str]:
    """The cells of a markdown table row (``\\|`` is a literal bar)."""
    inner = line.strip()[1:-1].replace("\\|", "\0")
    return [cell.strip().replace("\0", "|") for cell in inner.split("|")]


def markdown_tables_to_latex(markdown: str) -> str:
    """Every pipe table of ``markdown`` as a tabular (first column left, the others right);
    every other non-empty line as a ``%`` comment."""
    out: list[str] = []
    lines = markdown.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("|") and index + 1 < len(lines) and set(lines[index + 1]) <= set("|-: "):
            header = _cells(line)
            rows = []
            index += 2
            while index < len(lines) and lines[index].startswith("|"):
                rows.append(_cells(lines[index]))
                index += 1
            out += [r"\begin{tabular}{l" + "r" * (len(header) - 1) + "}", r"\toprule",
                    " & ".join(escape(cell) for cell in header) + r" \\", r"\midrule",
                    *(" & ".join(escape(cell) for cell in row) + r" \\" for row in rows),
                    r"\bottomrule", r"\end{tabular}"]
            continue
        out.append(f"% {line}" if line.strip() else "")
        index += 1
    return "\n".join(out) + "\n"


__all__ = ["escape", "markdown_tables_to_latex"]

"""The LaTeX reader: main file, \\input, comments, conditionals, sections, captions, bibliography."""

from __future__ import annotations

from pathlib import Path

import pytest

from papercoder.errors import InputError
from papercoder.paper.latex import read_latex
from papercoder.paper.texsource import find_main_file, strip_comments


def write(root: Path, files: dict[str, str | bytes]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return root


MAIN = r"""\documentclass{article}
\input{macros}
\def\venue{0}
\newif\ifdraft
\drafttrue
\title{Learning to Widget \\ with Gadgets\thanks{Work done at home.}}
\begin{document}
\maketitle
\begin{abstract}
We widget. % a comment
\end{abstract}
\input{sections/intro}
\include{sections/method.tex}
\if\venue1
\section{Camera Ready Only}
\else
\section{Preprint Only}
Text for the preprint.
\fi
\ifdraft
\section*{Draft Notes}
Notes kept while drafting.
\fi
\iffalse
\section{Dead Section}
\fi
\begin{comment}
\section{Commented Section}
\end{comment}
\bibliographystyle{plain}
\begin{thebibliography}{9}
\bibitem{turing} A. Turing. Computing machinery. 1950.
\end{thebibliography}
\appendix
\section{Proofs}
\subsection{Lemma One}
By induction.
\end{document}
"""

FILES = {
    "main.tex": MAIN,
    "macros.tex": r"\newcommand{\R}{\mathbb{R}}",
    "sections/intro.tex": "\\section{Introduction}\\label{sec:intro}\n"
    "We use 50\\% of the data~\\cite{turing, lovelace}. % hidden remark\n"
    "Math stays: $x \\in \\R^d$ and \\emph{emphasis}.\n\n"
    "\\begin{figure}[t]\\centering\\includegraphics{a.png}\\caption{A widget \\textbf{diagram}.}\\end{figure}\n",
    "sections/method.tex": "\\section{Method}\n\\subsection*{Setup}\nWe set $\\eta = 0.1$.\n"
    "\\begin{equation}\ny = Wx + b\n\\end{equation}\n"
    "\\begin{table}\\caption{Hyperparameters.}\\begin{tabular}{cc}a&b\\end{tabular}\\end{table}\n",
}


@pytest.fixture
def project(tmp_path) -> Path:
    return write(tmp_path / "My Paper ü", FILES)


def test_title_abstract_and_sections(project):
    paper = read_latex(project)
    assert paper.source_format == "latex"
    assert paper.title == "Learning to Widget with Gadgets"
    assert paper.abstract == "We widget."
    assert [(s.heading, s.level, s.appendix) for s in paper.sections] == [
        ("1 Introduction", 1, False),
        ("2 Method", 1, False),
        ("Setup", 2, False),
        ("3 Preprint Only", 1, False),
        ("Draft Notes", 1, False),
        ("A Proofs", 1, True),
        ("A.1 Lemma One", 2, True),
    ]


def test_text_cleaned_and_math_kept(project):
    intro, method = read_latex(project).sections[:2]
    assert "50% of the data [turing, lovelace]." in intro.text
    assert "hidden remark" not in intro.text
    assert "$x \\in \\mathbb{R}^d$" in intro.text and "*emphasis*" in intro.text
    assert "\\label" not in intro.text
    assert "\\begin{equation}\ny = Wx + b\n\\end{equation}" in read_latex(project).sections[2].text
    assert "includegraphics" not in intro.text


def test_captions_numbered_by_kind(project):
    assert read_latex(project).captions == ["Figure 1: A widget **diagram**.", "Table 1: Hyperparameters."]


def test_dead_text_removed(project):
    markdown = read_latex(project).to_markdown()
    for gone in ("Dead Section", "Commented Section", "Camera Ready Only"):
        assert gone not in markdown


def test_bibliography_dropped_unless_kept(project):
    assert "Turing" not in read_latex(project).to_markdown()
    kept = read_latex(project, keep_references=True)
    references = [s for s in kept.sections if s.heading == "References"]
    assert references and "A. Turing. Computing machinery. 1950." in references[0].text


def test_missing_input_warns_and_continues(tmp_path):
    root = write(tmp_path, {"paper.tex": "\\documentclass{article}\\begin{document}\n\\input{gone}\n\\section{Kept}\nText.\n\\end{document}"})
    paper = read_latex(root / "paper.tex")
    assert [s.heading for s in paper.sections] == ["1 Kept"]
    assert len(paper.warnings) == 1 and "gone" in paper.warnings[0] and "not found" in paper.warnings[0]


def test_input_cycle_is_an_input_error(tmp_path):
    root = write(
        tmp_path,
        {
            "main.tex": "\\documentclass{article}\\begin{document}\\input{a}\\end{document}",
            "a.tex": "\\input{b}",
            "b.tex": "\\input{a.tex}",
        },
    )
    with pytest.raises(InputError, match=r"cycle.*a\.tex -> b\.tex -> a\.tex"):
        read_latex(root / "main.tex")


def test_latin1_source_decoded_with_warning(tmp_path):
    text = "\\documentclass{article}\\begin{document}\\section{Résumé}Café.\\end{document}"
    root = write(tmp_path, {"main.tex": text.encode("latin-1")})
    paper = read_latex(root / "main.tex")
    assert paper.sections[0].heading == "1 Résumé"
    assert any("latin-1" in w for w in paper.warnings)


def test_main_file_prefers_top_level_document(tmp_path):
    document = "\\documentclass{article}\\begin{document}x\\end{document}"
    root = write(
        tmp_path,
        {"rebuttal/response.tex": document, "zz_article.tex": document, "intro.tex": "\\section{I}"},
    )
    assert find_main_file(root).name == "zz_article.tex"


def test_folder_without_main_file_is_an_input_error(tmp_path):
    write(tmp_path, {"intro.tex": "\\section{Intro}"})
    with pytest.raises(InputError, match="no main .tex"):
        find_main_file(tmp_path)


def test_comment_stripping_respects_escaped_percent():
    assert strip_comments("50\\% done % note\n% whole line\nnext\\\\% after linebreak") == "50\\% done \nnext\\\\"


def test_unbalanced_conditionals_lose_no_text(tmp_path):
    root = write(
        tmp_path,
        {"main.tex": "\\documentclass{article}\\def\\x{\\ifx}\\begin{document}\\section{Kept}Still here.\\end{document}"},
    )
    paper = read_latex(root / "main.tex")
    assert paper.sections and "Still here." in paper.sections[0].text


def test_user_macros_expanded():
    from papercoder.paper.texmacros import collect_macros, expand_macros

    source = (
        r"\newcommand{\RR}{\mathbb{R}}\newcommand\norm[1]{\lVert #1 \rVert}"
        r"\newcommand{\E}[2][x]{\mathbb{E}_{#1}[#2]}\DeclareMathOperator*{\argmin}{arg\,min}"
        r"\def\eps{\varepsilon}\renewcommand{\section}{oops}\def\loop{\loop a}"
    )
    macros = collect_macros(source)
    assert "section" not in macros
    text = r"$\norm{v} \in \RR^d$, $\E{f}$, $\E[y]{g}$, $\argmin_w \eps$, \RRx"
    assert expand_macros(text, macros) == (
        r"$\lVert v \rVert \in \mathbb{R}^d$, $\mathbb{E}_{x}[f]$, $\mathbb{E}_{y}[g]$, "
        r"$\operatorname{arg\,min}\limits_w \varepsilon$, \RRx"
    )
    assert len(expand_macros(r"\loop", macros)) < 100_000  # a recursive macro stops growing


def test_subfile_contributes_only_its_body(tmp_path):
    root = write(
        tmp_path,
        {
            "main.tex": "\\documentclass{article}\\begin{document}\\subfile{parts/intro}\\end{document}",
            "parts/intro.tex": "\\documentclass[../main.tex]{subfiles}\n\\begin{document}\n\\section{Intro}Body.\n\\end{document}\n",
        },
    )
    paper = read_latex(root / "main.tex")
    assert [(s.heading, s.text) for s in paper.sections] == [("1 Intro", "Body.")]


def test_tables_and_algorithms_stay_in_place_as_text(tmp_path):
    body = r"""\section{Setup}
Before.
\begin{table}[h]\centering\small
\resizebox{\linewidth}{!}{\begin{tabular}{l|cc}\toprule
Param & Value & Note \\ \midrule
learning rate & $10^{-3}$ & \multicolumn{1}{c}{Adam} \\
batch size & 64 & \\ \bottomrule
\end{tabular}}
\caption{Hyperparameters.}\label{tab:h}
\end{table}
\begin{algorithm}[t]
\caption{Training}
\begin{algorithmic}[1]
\Require data $D$
\For{$t = 1, \dots, T$}
\State $w \gets w - \eta \nabla L$ \Comment{SGD step}
\EndFor
\State \Return $w$
\end{algorithmic}
\end{algorithm}
After.
"""
    root = write(tmp_path, {"main.tex": "\\documentclass{article}\\begin{document}" + body + "\\end{document}"})
    paper = read_latex(root / "main.tex")
    assert paper.sections[0].text == (
        "Before.\n\n**Table 1: Hyperparameters.**\n\n"
        "Param | Value | Note\nlearning rate | $10^{-3}$ | Adam\nbatch size | 64 |\n\n"
        "**Algorithm 1: Training**\n\n"
        "Require: data $D$\nfor $t = 1, \\dots, T$:\n$w \\gets w - \\eta \\nabla L$   # SGD step\nend\nreturn $w$\n\n"
        "After."
    )
    assert paper.captions == ["Table 1: Hyperparameters.", "Algorithm 1: Training"]


def test_endinput_and_icml_title(tmp_path):
    root = write(
        tmp_path,
        {
            "main.tex": "\\documentclass{article}\\begin{document}\\twocolumn[\\icmltitle{An ICML Paper}]"
            "\\input{part}\\end{document}",
            "part.tex": "\\section{Read}Yes.\n\\endinput\n\\section{Unread}No.",
        },
    )
    paper = read_latex(root / "main.tex")
    assert paper.title == "An ICML Paper"
    assert [s.heading for s in paper.sections] == ["1 Read"]


def test_bibliography_from_bbl_when_kept(tmp_path):
    root = write(
        tmp_path,
        {
            "ms.tex": "\\documentclass{article}\\begin{document}\\section{A}x\\bibliography{refs}\\end{document}",
            "ms.bbl": "\\begin{thebibliography}{1}\n\\bibitem{k} K. Author.\n\\newblock A title.\n\\end{thebibliography}",
        },
    )
    kept = read_latex(root / "ms.tex", keep_references=True)
    assert kept.sections[-1].heading == "References" and kept.sections[-1].text == "- K. Author. A title."
    assert [s.heading for s in read_latex(root / "ms.tex").sections] == ["1 A"]


def test_input_outside_the_project_is_not_read(tmp_path):
    secret = write(tmp_path, {"secret.txt": "PRIVATE KEY"}) / "secret.txt"
    root = write(
        tmp_path / "paper",
        {"main.tex": f"\\documentclass{{article}}\\begin{{document}}\\input{{{secret}}}\\input{{../secret.txt}}"
                     "\\section{S}x\\end{document}"},
    )
    paper = read_latex(root / "main.tex")
    assert "PRIVATE" not in paper.to_markdown()
    assert len(paper.warnings) == 2 and all("outside the paper's folder" in w for w in paper.warnings)


def test_nested_main_file_may_input_from_the_project_folder(tmp_path):
    root = write(
        tmp_path,
        {
            "src/main.tex": "\\documentclass{article}\\begin{document}\\input{../shared/intro}\\end{document}",
            "shared/intro.tex": "\\section{Shared}Text.",
        },
    )
    assert [s.heading for s in read_latex(root).sections] == ["1 Shared"]


REFS = r"""\documentclass{article}
\begin{document}
\section{Introduction}\label{sec:intro}
As Section~\ref{sec:method} shows and \cref{fig:arch} draws, Eq.~\eqref{eq:loss} is the loss;
\autoref{tab:results} has the numbers, \Cref{sec:proofs} the proofs, and \ref{sec:missing} is lost.
\section{Method}\label{sec:method}
\subsection{Loss}\label{sec:loss}
\begin{equation}\label{eq:first} a = b \end{equation}
\begin{equation}
L = \ell_1 + \ell_2 \label{eq:loss}
\end{equation}
\begin{align}
x &= 1 \nonumber \\
y &= 2 \label{eq:y}
\end{align}
\begin{figure}[t]\centering\caption{The architecture.}\label{fig:arch}\end{figure}
\begin{table}\caption{Results.}\label{tab:results}\begin{tabular}{cc} a & b \\ \end{tabular}\end{table}
See \ref{sec:loss}, \eqref{eq:y} and \cref{fig:arch,tab:results}.
\appendix
\section{Proofs}\label{sec:proofs}
Text.
\end{document}
"""


def test_references_resolve_to_the_numbers_latex_prints(tmp_path):
    paper = read_latex(write(tmp_path, {"main.tex": REFS}) / "main.tex")
    intro = paper.sections[0].text
    assert "As Section 2 shows and Figure 1 draws, Eq. (2) is the loss;" in intro
    assert "Table 1 has the numbers, Appendix A the proofs" in intro
    assert "[sec:missing] is lost" in intro  # an unknown label keeps its name, not LaTeX's ??
    method = next(s for s in paper.sections if s.heading == "2.1 Loss").text
    assert "See 2.1, (3) and Figure 1 and Table 1." in method
    assert "\\ref" not in paper.to_markdown() and "\\eqref" not in paper.to_markdown()


def test_a_label_after_a_paragraph_heading_refers_to_its_section(tmp_path):
    source = (r"\documentclass{article}\begin{document}\section{A}\section{B}\subsection{C}"
              r"\paragraph{Setup.}\label{par:setup} Text. See \autoref{par:setup} and \ref{par:setup}.\end{document}")
    paper = read_latex(write(tmp_path, {"main.tex": source}) / "main.tex")
    assert "See Section 2.1 and 2.1." in paper.sections[-1].text


LEFTOVERS = r"""\documentclass{article}
\usepackage{icml2020}
\begin{document}
\twocolumn[
\icmltitle{Widgets at Scale}
\icmlsetsymbol{equal}{*}
\begin{icmlauthorlist}
\icmlauthor{Ada Lovelace}{lab}
\icmlauthor{Alan Turing}{lab}
\end{icmlauthorlist}
\icmlaffiliation{lab}{The Lab, London}
\icmlcorrespondingauthor{Ada Lovelace}{ada@lab.org}
\icmlkeywords{widgets, gadgets}
\vskip 0.3in
]
\printAffiliationsAndNotice{\icmlEqualContribution}
\begin{abstract}
We scale widgets.
\end{abstract}
\section{Method}
\setlength{\tabcolsep}{3pt}
\renewcommand{\arraystretch}{1.2}
\begin{itemize}[topsep=1pt,leftmargin=*]
\item the first step
\end{itemize}
\begin{figure}[t]
\begin{subfigure}{0.5\linewidth}\includegraphics[width=\linewidth]{a.pdf}\caption{Loss.}\end{subfigure}
\begin{subfigure}{0.5\linewidth}\includegraphics[width=\linewidth]{b.pdf}\caption{Accuracy.}\end{subfigure}
\caption{Training curves of both models.}\label{fig:curves}
\end{figure}
\begin{center}\includegraphics[width=0.3\textwidth]{logo.png}\end{center}
Figure~\ref{fig:curves} shows it.
\end{document}
"""


def test_icml_front_matter_layout_commands_and_subfigures(tmp_path):
    paper = read_latex(write(tmp_path, {"main.tex": LEFTOVERS}) / "main.tex")
    markdown = paper.to_markdown()
    assert paper.title == "Widgets at Scale"
    assert paper.abstract == "We scale widgets."
    for raw in ("icmlauthor", "printAffiliationsAndNotice", "icmlkeywords", "Front matter", "topsep", "tabcolsep",
                "arraystretch", "includegraphics", "vskip"):
        assert raw not in markdown, raw
    assert "- the first step" in paper.sections[0].text
    assert paper.captions == ["Figure 1: Training curves of both models. (a) Loss. (b) Accuracy."]
    assert "Figure 1 shows it." in paper.sections[0].text


def test_a_folder_with_several_main_files_says_which_it_read(tmp_path):
    root = write(tmp_path, {
        "main.tex": "\\documentclass{article}\\begin{document}\\section{Main}Text.\\end{document}",
        "supplement.tex": "\\documentclass{article}\\begin{document}\\section{Extra}More.\\end{document}",
    })
    paper = read_latex(root)
    assert [s.heading for s in paper.sections] == ["1 Main"]
    assert any("main.tex" in w and "supplement.tex" in w and "give its path" in w for w in paper.warnings), paper.warnings

"""Evaluation: how well a repository reproduces a paper, measured as Paper2Code and PaperBench do.

- ``protocols``: the table of judging protocols; one module each: ``paper2code`` (the 1-5 score,
  ``papercoder eval``), ``paperbench`` (PaperBench's judge, ``papercoder grade``), ``lexical``
  (the cheaper rubric judge);
- ``graded``: graded rubrics (the trees themselves are :mod:`papercoder.rubric`);
- ``files``: which repository files a judge reads; ``judgecontext``: fitting a judge's prompt;
- ``verdicts``: reading the judge's answers (invalid ones are counted, never raised);
- ``calls``: asking the judge many times at once;
- ``judgeeval`` and ``judgements``: measuring a judge on human grades, recomputing a graded tree;
- ``api``: one function per command; ``report``: summaries and where results go.
"""

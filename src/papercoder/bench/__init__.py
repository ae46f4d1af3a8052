"""``papercoder bench``: PaperBench's Code-Dev score of papercoder, on PaperBench's own data.

Reads PaperBench's paper folders (:mod:`papercoder.bench.layout`), runs the pipeline on each paper
under each variant of papercoder's options (:mod:`papercoder.bench.variants`), exports each
repository in the layout PaperBench's grader reads, grades it with the PaperBench-protocol judge
in Code-Dev mode, and tabulates mean and standard error over seeds (:mod:`papercoder.bench.driver`).
Above the engine, the evaluation protocols and export; below the command line.
"""

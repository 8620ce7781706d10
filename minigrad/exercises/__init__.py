"""Backward-pass exercises made from minigrad itself: `python -m minigrad.exercises --help`.

    new DIR      a copy of minigrad whose every op's backward raises NotImplementedError("Exercise N: ..."),
                 with per-exercise tests (PyTorch as the oracle) and an EXERCISES.md, easy to hard
    check DIR    run those tests once and print a progress table (done / failing / not started)
    solve DIR N  put minigrad's real backward back for exercise N

catalog.py lists the exercises (order, math, hints), cases.py their test tables; workspace.py
does the copy and the source rewrite, render.py and docs.py write the tests and EXERCISES.md.
Nothing here is imported by minigrad itself.
"""

"""Backward-pass exercises made from minigrad itself: `python -m minigrad.exercises --help`.

    new DIR      a copy of minigrad whose every op's backward raises NotImplementedError("Exercise N: ..."),
                 with per-exercise tests (PyTorch as the oracle) and an EXERCISES.md, easy to hard
    check DIR    run those tests once and print a progress table (done / failing / not started);
                 once every exercise passes, run the capstone
    hint N       the formula of exercise N (a number or an op name: hint softmax)
    solve DIR N  put minigrad's real backward back for exercise N (the learner's goes to DIR/attempts/)
    capstone DIR train the tutorial's ViT with the workspace's backward passes (DIR/capstone.py)

catalog.py lists the exercises (order, math, hints), cases.py their test tables; workspace.py
does the copy and the source rewrite, render.py and docs.py write the tests and EXERCISES.md;
capstone.py is copied into the workspace as it is.
Nothing here is imported by minigrad itself.
"""

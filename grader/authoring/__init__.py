"""Authoring the course: from ``solutions/`` to the notebooks and weights students get.

``release`` writes byte-stable student notebooks, only over files it made
itself; ``lesson_checks`` is what ``course release`` verifies first (headings
promise the points their tests give, each solution scores full marks in the
sandbox, stored outputs refreshed); ``scaffold`` writes a new lesson's files
(``course new-lesson``); ``pretrain`` trains the course's own small backbone
weights. It sits above the class layer: verifying a solution grades it.
"""

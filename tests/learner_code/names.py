"""The `names.txt` the makemore lectures read: a fixed, generated list (no download, no data file in the repo).

It starts as the lecture's file does (emma, olivia, ava, isabella, sophia: the first five words give the
32 examples its first forward pass indexes with `torch.arange(32)`), holds every letter a-z (27 characters
with '.'), and is the same list on every run: syllables drawn from a seeded NumPy generator.
"""
from __future__ import annotations

import numpy as np

FIRST = ["emma", "olivia", "ava", "isabella", "sophia", "charlotte", "mia", "amelia", "harper", "evelyn",
         "quinn", "xavier", "zoey", "jackson", "kylie", "violet", "wyatt", "felix", "gwen", "yusuf"]
ONSETS = ["", "b", "br", "c", "ch", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "sh", "t",
          "th", "v", "w", "z", "kr", "st", "qu", "x"]
VOWELS = ["a", "e", "i", "o", "u", "ia", "ie", "ea", "ai", "y", "ay", "ee"]
CODAS = ["", "", "", "n", "l", "r", "s", "th", "nn", "ll", "x", "m", "lyn", "ne", "na", "ra", "son", "ah"]


def make_words(count: int = 400, seed: int = 2147483647) -> list[str]:
    """count distinct lowercase names, 2 to 12 letters, FIRST first."""
    rng = np.random.default_rng(seed)
    pick = lambda parts: parts[int(rng.integers(len(parts)))]  # noqa: E731
    words, seen = list(FIRST), set(FIRST)
    while len(words) < count:
        word = pick(ONSETS) + pick(VOWELS)
        for _ in range(int(rng.integers(0, 3))):
            word += pick(ONSETS[1:]) + pick(VOWELS)
        word += pick(CODAS)
        if 2 <= len(word) <= 12 and word not in seen:
            words.append(word)
            seen.add(word)
    assert set("".join(words)) == set("abcdefghijklmnopqrstuvwxyz")
    return words


NAMES_TXT = "\n".join(make_words()) + "\n"

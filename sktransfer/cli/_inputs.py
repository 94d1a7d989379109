"""How the command line reads the samples that files and folders name: one reading for all.

``sktransfer encode`` and ``sktransfer predict`` both read images and texts
this way: an image file is one image and a folder holds image files (searched
recursively); a text file is one text, or one text per non-empty line with
``--lines``, and a folder holds ``.txt`` files. CSV files are read by each
command, by column.
"""

from __future__ import annotations

from pathlib import Path

from ..data import find_images


def existing(entry):
    """``entry`` as a Path; a FileNotFoundError names it as the user wrote it."""
    path = Path(entry)
    if not path.exists():
        raise FileNotFoundError(f"input '{entry}' does not exist")
    return path


def file_samples(path, kind, *, lines=False):
    """The samples one file or folder (not a CSV file) holds, and a name for each.

    Parameters
    ----------
    path : Path
        An image or text file, or a folder of them.
    kind : {"images", "texts"}
        What the samples are.
    lines : bool, default=False
        Texts: one per non-empty line of each file, instead of one per file.

    Returns
    -------
    samples : list of str
        Image paths, or texts.
    names : list of str
        The file of each sample (``file:line`` for lines, counted from 1).
    """
    if kind == "images":
        found = find_images(path) if path.is_dir() else [str(path)]
        return found, found
    files = sorted(path.rglob("*.txt")) if path.is_dir() else [path]
    samples, names = [], []
    for file in files:
        text = file.read_text(encoding="utf-8", errors="replace")
        if not lines:
            samples.append(text)
            names.append(str(file))
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                samples.append(line)
                names.append(f"{file}:{number}")
    return samples, names

"""Data shared by the spec tests: examples/make_example_data.py's files, made small."""

import importlib.util
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).parents[2] / "examples"


@pytest.fixture(scope="session")
def make_example_data():
    """``make(out, per_class, test_per_class)``: the examples' image folders and table in
    ``out``, with that many training and test images per class."""
    module = importlib.util.spec_from_file_location("make_data", EXAMPLES / "make_example_data.py")
    make_data = importlib.util.module_from_spec(module)
    module.loader.exec_module(make_data)

    def make(out, per_class, test_per_class):
        args = ["--out", str(out), "--per-class", str(per_class)]
        make_data.main([*args, "--test-per-class", str(test_per_class)])

    return make

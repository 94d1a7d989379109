"""Ranking candidates without code: ``sktransfer rank SPEC``, and BackboneSelector in a spec."""

import io
import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.pipeline import make_pipeline

from sktransfer import ImageEncoder
from sktransfer.cli import main
from sktransfer.ranking import rank_backbones
from sktransfer.spec import SpecError, load_spec, run
from sktransfer.spec._rank import load_rank_spec, rank
from sktransfer.spec._rank_outputs import write_ranking_png

GOOD = ["a good film", "a great cast", "lovely acting", "a wonderful story", "superb music"]
BAD = ["a bad film", "an awful cast", "dull acting", "a boring story", "terrible music"]
SVD = {"TruncatedSVD": {"n_components": 5, "random_state": 0}}
TEXT_CANDIDATES = [
    "TfidfVectorizer",
    "CountVectorizer",
    {"CountVectorizer": {"binary": True}},
    ["TfidfVectorizer", SVD],  # a pipeline
]


def reviews(path, repeats=4):
    """A CSV of short reviews, half of each label; returns texts and labels."""
    texts = [f"{t} {i}" for i in range(repeats) for t in GOOD + BAD]
    labels = ["pos" if t.rsplit(" ", 1)[0] in GOOD else "neg" for t in texts]
    pd.DataFrame({"text": texts, "label": labels}).to_csv(path, index=False)
    return texts, labels


def photos(root, per_class=6):
    """Class folders of small PNGs, the two classes apart in brightness."""
    rng = np.random.default_rng(0)
    for label, shift in (("cat", 0), ("dog", 120)):
        (root / label).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 100, (20, 20, 3)) + shift
            Image.fromarray(pixels.astype(np.uint8)).save(root / label / f"{i}.png")


def write(path, fields):
    path.write_text(json.dumps(fields))  # JSON is YAML
    return str(path)


def text_spec(tmp_path, **changes):
    texts, labels = reviews(tmp_path / "train.csv")
    reviews(tmp_path / "test.csv", repeats=2)
    fields = {
        "name": "reviews",
        "data": {"csv": "train.csv", "test": "test.csv", "label": "label"},
        "candidates": TEXT_CANDIDATES,
        **changes,
    }
    return write(tmp_path / "rank.yaml", fields), texts, labels


def test_rank_prints_the_table_on_stdout_progress_on_stderr_and_writes_three_files(
    tmp_path, capsys
):
    spec, texts, labels = text_spec(tmp_path, output={"dir": "out"})
    assert main(["rank", spec]) == 0
    printed = capsys.readouterr()
    lines = printed.out.splitlines()
    assert lines[0] == (
        f"reviews: logme on {len(texts)} training samples (csv train.csv), higher is better"
    )
    assert lines[1].split() == ["candidate", "score", "rank", "dim", "seconds"]
    assert len(lines) == 2 + len(TEXT_CANDIDATES)
    assert lines[2].endswith("<- chosen") and not any("chosen" in line for line in lines[3:])
    # Progress, one line per candidate in the spec's order, only on stderr.
    progress = [line for line in printed.err.splitlines() if line.startswith("candidate ")]
    assert [line.split(" (")[0] for line in progress] == [f"candidate {i}/4" for i in (1, 2, 3, 4)]
    assert "TfidfVectorizer, logme " in progress[0] and " s)" in progress[0]
    assert "TfidfVectorizer + TruncatedSVD, logme " in progress[3]
    assert "candidate 1/4" not in printed.out and "<- chosen" not in printed.err

    # The training samples only (test.csv is left out), scored as rank_backbones scores them.
    svd = make_pipeline(TfidfVectorizer(), TruncatedSVD(n_components=5, random_state=0))
    candidates = [TfidfVectorizer(), CountVectorizer(), CountVectorizer(binary=True), svd]
    expected = rank_backbones(texts, labels, candidates)
    table = pd.read_csv(tmp_path / "out" / "ranking.csv")
    assert list(table.columns) == [
        "candidate", "score", "rank", "feature_dim", "encode_s", "score_s", "chosen", "index"
    ]  # fmt: skip
    in_the_specs_order = table.sort_values("index")["candidate"].tolist()
    assert in_the_specs_order == [
        "TfidfVectorizer", "CountVectorizer", "CountVectorizer (binary=True)",
        "TfidfVectorizer + TruncatedSVD",
    ]  # fmt: skip
    assert table["score"].is_monotonic_decreasing
    assert np.allclose(sorted(table["score"]), sorted(expected["score"]))
    assert table["chosen"].tolist() == [True, False, False, False]
    assert lines[2].startswith(table["candidate"][0] + " ")
    report = json.loads((tmp_path / "out" / "ranking.json").read_text())
    assert report["chosen"] == table["candidate"][0] and report["scorer"] == "logme"
    assert report["data"] == {"source": "csv train.csv", "n_train": len(texts),
                              "classes": ["neg", "pos"]}  # fmt: skip
    assert report["files"] == {"table": "ranking.csv", "JSON report": "ranking.json",
                               "chart": "ranking.png"}  # fmt: skip
    with Image.open(tmp_path / "out" / "ranking.png") as chart:
        assert chart.format == "PNG" and chart.height > 200


def test_quiet_scorer_and_out_override_the_spec(tmp_path, capsys):
    spec, texts, _ = text_spec(tmp_path, rank={"scorer": "logme"}, output={"dir": "out"})
    assert main(["rank", spec, "--quiet", "--scorer", "hscore", "--out", str(tmp_path / "o")]) == 0
    printed = capsys.readouterr()
    assert printed.err == ""
    assert printed.out.startswith(f"reviews: hscore on {len(texts)} training samples")
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == [
        "ranking.csv", "ranking.json", "ranking.png"
    ]  # fmt: skip
    assert not (tmp_path / "out").exists()
    # Without an output folder nothing is written.
    bare = tmp_path / "bare"
    bare.mkdir()
    spec, _, _ = text_spec(bare)
    assert main(["rank", spec, "--quiet"]) == 0
    assert sorted(p.name for p in bare.iterdir()) == [
        "rank.yaml", "test.csv", "train.csv"
    ]  # fmt: skip


def test_real_targets_are_ranked_as_a_regression(tmp_path):
    texts = [f"{t} {i}" for i in range(4) for t in GOOD + BAD]
    targets = np.linspace(0.0, 1.0, len(texts)) + 0.013  # every value its own
    pd.DataFrame({"text": texts, "stars": targets}).to_csv(tmp_path / "t.csv", index=False)
    spec = {"data": {"csv": "t.csv", "label": "stars"}, "candidates": ["TfidfVectorizer"]}
    report = rank(load_rank_spec(spec, base_dir=tmp_path))
    assert report["task"] == "regression" and report["data"]["classes"] is None
    assert report["data"]["n_train"] == 30  # the run's split: a quarter held out


def test_two_cheap_image_candidates_on_an_image_folder(tmp_path, capsys):
    photos(tmp_path / "photos")
    spec = write(
        tmp_path / "rank.yaml",
        {
            "data": {"images": "photos", "test_size": 0.25},
            "candidates": [{"ImageEncoder": {"image_size": 32}}, "PixelEncoder"],
            "rank": {"cache": "embeddings"},
        },
    )
    assert main(["rank", spec, "--out", str(tmp_path / "out")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("ranking: logme on 9 training samples (images photos)")
    dims = {line.split()[0]: line.split()[3] for line in lines[2:]}
    assert dims == {"efficientnet_lite0": "1280", "PixelEncoder": "1024"}
    assert sum(line.endswith("<- chosen") for line in lines) == 1
    assert (tmp_path / "embeddings").is_dir()  # rank.cache, relative to the spec's folder
    assert (tmp_path / "out" / "ranking.png").stat().st_size > 0


def test_the_chart_has_the_best_on_top_the_chosen_marked_and_every_name_inside():
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    names = ["efficientnet_lite0[blocks.3+blocks.4+blocks.5]", "efficientnet_lite0", "pixels"]
    scores = [0.4, -0.2, -0.9]
    report = {
        "name": "photos",
        "scorer": "logme",
        "data": {"source": "images photos", "n_train": 18},
        "ranking": [
            {"candidate": n, "score": s, "chosen": i == 0}
            for i, (n, s) in enumerate(zip(names, scores))
        ],
    }
    figure = write_ranking_png(report, io.BytesIO())
    (axes,) = figure.axes
    canvas = FigureCanvasAgg(figure)
    figure.draw(canvas.get_renderer())
    ticks = axes.get_yticklabels()
    # Best at the top: the first row is drawn highest.
    heights = [t.get_window_extent().y0 for t in ticks]
    assert [t.get_text() for t in ticks] == names and heights == sorted(heights, reverse=True)
    colours = [tuple(bar.get_facecolor()) for bar in axes.patches]
    assert colours[0] != colours[1] == colours[2]
    assert [t.get_text() for t in axes.texts] == ["0.400", "-0.200", "-0.900", "chosen"]
    assert ticks[0].get_fontweight() == "bold"
    # Longer bars for higher scores, whatever their sign.
    widths = [bar.get_width() for bar in axes.patches]
    assert widths == sorted(widths, reverse=True) and min(widths) > 0
    # No name clipped at the figure's left edge, and the labels of the values inside.
    width = figure.bbox.width
    for text in [*ticks, *axes.texts]:
        extent = text.get_window_extent()
        assert extent.x0 >= 0 and extent.x1 <= width
    assert "LogME" in axes.get_title() and "images photos" in axes.get_title()


@pytest.mark.parametrize(
    "candidates, field, words",
    [
        (["TfidfVectorizer", "efficientnet_lite"], "candidates[1]",
         ["neither a registered backbone nor an estimator", "Did you mean: efficientnet_lite"]),
        ([{"ImageEncodr": {"image_size": 32}}], "candidates[0]",
         ["expected a backbone name", "Did you mean: ImageEncoder"]),
        ([{"layers_of": "all-MiniLM-L6-v2"}], "candidates[0].layers_of",
         ["'all-MiniLM-L6-v2' is a text backbone", "image backbone's layer groups"]),
        ([{"layers_of": {"backbone": "efficientnet_lite9"}}], "candidates[0].layers_of.backbone",
         ["not a registered image backbone", "efficientnet_lite0"]),
        ([{"layers_of": {"backbone": "efficientnet_lite0", "image_sise": 32}}],
         "candidates[0].layers_of.image_sise", ["Did you mean: image_size"]),
        ([{"ImageEncoder": {"layr": "blocks.4"}}], "candidates[0].ImageEncoder.layr",
         ["Did you mean: layer"]),
        ([], "candidates", ["give at least one candidate"]),
        ("TfidfVectorizer", "candidates", ["expected a list"]),
    ],
)  # fmt: skip
def test_a_wrong_candidate_names_its_field_and_the_close_names(candidates, field, words):
    spec = {"data": {"dataset": "bbc_news", "per_class": 4}, "candidates": candidates}
    with pytest.raises(SpecError) as caught:
        load_rank_spec(spec)
    assert caught.value.field == field
    for word in words:
        assert word in str(caught.value)


def test_rank_section_and_missing_candidates_are_checked():
    data = {"dataset": "bbc_news", "per_class": 4}
    for fields, field, word in [
        ({"data": data}, "candidates", "required field is missing"),
        ({"data": data, "candidates": ["TfidfVectorizer"], "rank": {"scorer": "logm"}},
         "rank.scorer", "Did you mean: logme"),
        ({"data": data, "candidates": ["TfidfVectorizer"], "rank": {"scorer": "leap"}},
         "rank.scorer", "Did you mean: leep"),
        ({"data": data, "candidates": ["TfidfVectorizer"], "pipeline": ["LogisticRegression"]},
         "pipeline", "Expected one of: name, data, candidates, rank, output"),
    ]:  # fmt: skip
        with pytest.raises(SpecError) as caught:
            load_rank_spec(fields)
        assert caught.value.field == field and word in str(caught.value)


def test_layers_of_expands_to_one_encoder_per_layer_group():
    spec = load_rank_spec(
        {
            "data": {"dataset": "bbc_news", "per_class": 4},
            "candidates": [
                "PixelEncoder",
                {"layers_of": {"backbone": "efficientnet_lite0", "image_size": 64,
                               "concatenations": False}},
                {"layers_of": "efficientnet_lite0"},
            ],
        }
    )  # fmt: skip
    assert len(spec.candidates) == 1 + 7 + 9
    first = spec.candidates[1:8]
    assert all(isinstance(c, ImageEncoder) and c.image_size == 64 for c in first)
    assert [c.layer for c in first][:2] == ["blocks.0", "blocks.1"]
    assert spec.candidates[-1].layer == ["blocks.3", "blocks.4", "blocks.5"]


def test_a_spec_error_exits_2_with_one_line_on_stderr_and_nothing_on_stdout(tmp_path, capsys):
    spec, _, _ = text_spec(tmp_path, candidates=["TfidfVectoriser"])
    assert main(["rank", spec]) == 2
    printed = capsys.readouterr()
    assert printed.out == ""
    assert printed.err.startswith("sktransfer rank: error: candidates[0]: 'TfidfVectoriser'")
    assert "Did you mean: TfidfVectorizer" in printed.err


def test_backbone_selector_is_a_pipeline_step_in_a_run_spec_with_a_search(tmp_path, capsys):
    reviews(tmp_path / "train.csv")
    selector = {"candidates": TEXT_CANDIDATES, "scorer": "hscore"}
    fields = {
        "name": "selected",
        "data": {"csv": "train.csv", "label": "label"},
        "pipeline": [{"BackboneSelector": selector}, "LogisticRegression"],
        "search": {"params": {"logisticregression__C": [0.1, 10.0]}, "cv": 2},
    }
    spec = load_spec(fields, base_dir=tmp_path)
    step = spec.estimator.estimator.steps[0][1]
    assert type(step).__name__ == "BackboneSelector" and step.scorer == "hscore"
    assert [type(c).__name__ for c in step.candidates] == [
        "TfidfVectorizer", "CountVectorizer", "CountVectorizer", "Pipeline"
    ]  # fmt: skip
    report = run(spec)
    assert report["pipeline"] == "BackboneSelector + LogisticRegression"
    assert report["search"]["candidates"] == 2 and report["metrics"]["accuracy"] > 0.5
    # Through the command line: the metrics on stdout, the search's progress on stderr.
    assert main(["run", write(tmp_path / "run.yaml", fields)]) == 0
    printed = capsys.readouterr()
    assert printed.out.startswith("selected: BackboneSelector + LogisticRegression")
    assert "fit 1/5" in printed.err and "fit 1/5" not in printed.out


@pytest.mark.parametrize(
    "selector, search, field, word",
    [
        ({"candidates": ["TfidfVectorizer", "CountVectoriser"]}, None,
         "pipeline[0].BackboneSelector.candidates[1]", "Did you mean: CountVectorizer"),
        ({"candidates": ["TfidfVectorizer"], "scorer": "nec"}, None,
         "pipeline[0].BackboneSelector.scorer", "hscore, leep, logme, nce, probe"),
        ({}, None, "pipeline[0].BackboneSelector", "candidates must be a non-empty list"),
        ({"candidates": ["TfidfVectorizer"]}, {"backboneselector__scorer": ["logme", "hscor"]},
         "search.params.backboneselector__scorer[1].backboneselector", "Did you mean: hscore"),
    ],
)  # fmt: skip
def test_backbone_selector_mistakes_in_a_run_spec_name_the_field(selector, search, field, word):
    fields = {
        "data": {"dataset": "bbc_news", "per_class": 4},
        "pipeline": [{"BackboneSelector": selector}, "LogisticRegression"],
    }
    if search:
        fields["search"] = {"params": search, "cv": 2}
    with pytest.raises(SpecError) as caught:
        load_spec(fields)
    assert caught.value.field == field and word in str(caught.value)


def test_a_candidate_that_fails_is_named_and_nothing_is_written(tmp_path, capsys):
    spec, _, _ = text_spec(
        tmp_path, candidates=["CountVectorizer", {"TfidfVectorizer": {"min_df": 1000}}]
    )
    assert main(["rank", spec, "--out", str(tmp_path / "out")]) == 1
    printed = capsys.readouterr()
    assert printed.out == ""
    assert "sktransfer rank: error: candidate 2/2, TfidfVectorizer: ValueError: " in printed.err
    assert "candidate 1/2 (" in printed.err  # the first one's score was shown
    assert not (tmp_path / "out").exists()

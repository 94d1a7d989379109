"""What a report says in words: whether transfer beat the baseline, whether adaptation
helped, and what to try next."""

from __future__ import annotations

from ._report import plain

NEGATIVE_TRANSFER = (
    "Transfer did not beat the baseline here: {metric} {score:.3f} against {baseline:.3f} "
    "for {name}. A pre-trained model can do worse than one trained from scratch when its "
    "domain is far from yours (negative transfer), or when there are enough labels to learn "
    "the task directly. {advice}"
)
WITHIN_NOISE = (
    "Transfer {verb} the baseline, {metric} {score:.3f} against {baseline:.3f} for {name}, "
    "but within noise on {n} test samples: {reading}. A larger test set would tell them apart."
)
# Freeze strategies a hint may suggest, the likeliest first.
FREEZE_OPTIONS = ("last:2", "none", "progressive", "lora", "backbone")


NOT_USED = (
    "The unlabelled samples (data.unlabelled) were not used: the model chosen has "
    "adapt='none'. {measured}"
)
NOT_HELPED = (
    "Adaptation did not help{beyond} on the target samples: {metric} {score:.3f} with "
    "adapt={adapt!r} against {against:.3f} without it{noise}. {advice}"
)
# What to do when adaptation did not help: it lost, or it won within noise.
WORSE = (
    "Keep the simpler model (adapt='none'), or try another adaptation or a smaller adapt_weight."
)
UNSURE = (
    "More labelled target samples would tell them apart; until then the simpler model "
    "(adapt='none') does as well."
)
HELPED = (
    "Adaptation helped on the target samples: {metric} {score:.3f} with adapt={adapt!r} "
    "against {against:.3f} without it ({reading})."
)


def tried_settings(estimator):
    """What this run tried: the values of each searched parameter, ``freeze`` and ``backbone``.

    What a hint should not suggest again.

    Parameters
    ----------
    estimator : estimator
        The fitted pipeline, or the fitted search around it.

    Returns
    -------
    dict
        Parameter name (scikit-learn's ``step__param``) to the list of its values, JSON's
        types: every value the search's candidates took, and the fitted pipeline's own
        ``freeze`` (as its recipe resolved "auto") and ``backbone``.
    """
    tried = {}

    def add(name, value):
        values = tried.setdefault(name, [])
        if plain(value) not in values:
            values.append(plain(value))

    for params in getattr(estimator, "cv_results_", {}).get("params", []):
        for name, value in params.items():
            add(name, value)
    fitted = getattr(estimator, "best_estimator_", estimator)
    for name, step in [("", fitted), *fitted.get_params(deep=True).items()]:
        recipe = getattr(step, "recipe_", None)  # set by a fitted fine-tuner
        if isinstance(recipe, dict) and "freeze" in recipe:
            add(f"{name}__freeze" if name else "freeze", recipe["freeze"])
    for name, value in fitted.get_params(deep=True).items():
        last = name.rsplit("__", 1)[-1]
        if last in ("freeze", "backbone") and isinstance(value, (str, int)) and value != "auto":
            add(name, value)
    return tried


def primary_metric(classification):
    return "accuracy" if classification else "r2"


def compare(report):
    """The note on transfer against the baseline: a loss, or a difference within noise.

    Parameters
    ----------
    report : dict
        Its ``baseline``'s ``paired_test`` says whether the difference is more than noise;
        its ``tried`` (:func:`tried_settings`), what the advice should leave out. Gets
        ``transfer_beats_baseline``.

    Returns
    -------
    str or None
        None without a baseline, or when transfer beat it beyond noise.
    """
    baseline = report.get("baseline")
    if not baseline:
        return None
    metric = primary_metric(report["task"] == "classification")
    score, against = report["metrics"][metric], baseline["metrics"][metric]
    beats = bool(score > against)
    report["transfer_beats_baseline"] = beats
    test = baseline.get("paired_test")
    noise = test is not None and not test["significant"]
    if beats and not noise:
        return None
    words = {"metric": metric, "score": score, "baseline": against, "name": baseline["name"]}
    advice = _advice(report.get("tried"))
    if not noise:
        return NEGATIVE_TRANSFER.format(advice=advice, **words)
    verb = "beat" if beats else "did not beat"
    note = WITHIN_NOISE.format(verb=verb, n=test["n"], reading=test["reading"], **words)
    if beats:
        return note
    return f"{note} If the baseline stays ahead: {advice[0].lower()}{advice[1:]}"


def _advice(tried):
    """What to try next, leaving out the freeze strategies and backbones ``tried`` holds."""
    if tried is None:  # what ran is not known: the general advice
        return (
            "Try fine-tuning more layers (freeze='last:2', 'none'), another backbone, "
            "or keep the simpler model."
        )
    options = []
    freezes = _values(tried, "freeze")
    if freezes:
        from ..finetune import RECIPES, Freeze

        def kind(value):
            if value == "auto":
                return set().union(*(kind(r["freeze"]) for r in RECIPES.values()))
            try:
                parsed = Freeze.parse(value)
            except ValueError:
                return set()
            return {(parsed.kind, parsed.count if parsed.kind == "last" else 0)}

        done = set().union(*map(kind, freezes))
        untried = [v for v in FREEZE_OPTIONS if not kind(v) <= done][:2]
        if untried:
            shown = ", ".join(map(repr, freezes))
            options.append(f"freeze={' or '.join(map(repr, untried))} (this run tried {shown})")
    backbones = _values(tried, "backbone")
    if backbones:
        options.append("a backbone other than " + ", ".join(map(repr, backbones)))
    if not options:
        return "Keep the simpler model."
    return "Try " + ", ".join(options) + ", or keep the simpler model."


def _values(tried, param):
    """Every value ``tried`` holds for ``param`` of any step, in order, once each."""
    found = []
    for name, values in tried.items():
        if name == param or name.endswith(f"__{param}"):
            found += [v for v in values if v not in found]
    return found


def target_note(report):
    """What the target samples say of adaptation: helped, did not, or was not used."""
    target = report.get("target")
    if not target:
        return None
    metric = primary_metric(report["task"] == "classification")
    score = target["metrics"][metric]
    if target["adapt"] == "none":
        if report["data"].get("n_unlabelled"):
            return NOT_USED.format(measured=f"On the target samples: {metric} {score:.3f}.")
        return None
    without = target.get("without_adaptation")
    if without is None:
        return None
    against = without["metrics"][metric]
    test = without.get("paired_test")
    words = {"metric": metric, "score": score, "against": against, "adapt": target["adapt"]}
    if score > against and (test is None or test["significant"]):
        return HELPED.format(reading=test["reading"] if test else "no paired test", **words)
    noise = f", within noise on {test['n']} samples ({test['reading']})" if test else ""
    ahead = score > against
    beyond, advice = (" beyond noise", UNSURE) if ahead else ("", WORSE)
    return NOT_HELPED.format(beyond=beyond, noise=noise, advice=advice, **words)

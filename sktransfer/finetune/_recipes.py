"""The fine-tuners' defaults per modality: one recipe for CNNs on images, one for text transformers.

A parameter left at ``"auto"`` takes its value from the recipe of what the
backbone reads. The rates and schedules follow common practice (below); the
freeze strategies and epochs were chosen among a few on labelled samples
outside every test set (``benchmarks/bench_lpft.py --dev``). They are tabled in
README ("Fine-tuning recipes"), and ``recipe_`` on a fitted fine-tuner says
what it used.

Transformers are fine-tuned with AdamW at a rate of a few 1e-5 on the body,
warmed up then decayed, as Hugging Face's ``Trainer`` and SetFit do; CNNs take
a body rate ten times below the head's. Both start the head as a linear probe
(``head_init="probe"``), so the body's first steps follow a head that already
fits.
"""

from __future__ import annotations

AUTO = "auto"

RECIPES = {
    "image": {
        "freeze": "last:2",
        "lr": 1e-3,
        "backbone_lr": 1e-4,
        "schedule": "warmup_cosine",
        "max_epochs": 10,
        "batch_size": 32,
        "head_init": "probe",
    },
    "text": {
        "freeze": "last:2",
        "lr": 1e-3,
        "backbone_lr": 5e-5,
        "schedule": "warmup_cosine",
        "max_epochs": 4,
        "batch_size": 16,
        "head_init": "probe",
    },
}


def with_recipe(params, modality):
    """``params`` with every ``"auto"`` value replaced by ``modality``'s recipe.

    Two follow the weights rather than the modality: from scratch
    (``weights=None``), or with hidden layers, the head starts at random (a
    probe is a linear head on learnt features), and from scratch BatchNorm
    layers learn their statistics (``batchnorm="train"``; "eval" otherwise).

    Returns
    -------
    params : dict
        A copy.
    used : dict
        The recipe's parameters and the values they took (the given ones
        where they were not "auto").
    """
    recipe = RECIPES[modality]
    done = dict(params)
    if done["head_init"] == AUTO and (done["hidden"] or done["weights"] is None):
        done["head_init"] = "random"
    if done["batchnorm"] == AUTO:
        done["batchnorm"] = "train" if done["weights"] is None else "eval"
    for name, value in recipe.items():
        if done[name] == AUTO:
            done[name] = value
    return done, {name: done[name] for name in recipe}

"""Every public estimator follows scikit-learn's API conventions.

The encoders read images or text, not the numeric matrices sklearn's full
``check_estimator`` feeds them, so they run the checks that need no data.
"""

import inspect

import pytest
from sklearn.base import BaseEstimator, clone
from sklearn.utils import estimator_checks as checks

import sktransfer

DATA_FREE_CHECKS = [
    checks.check_estimator_cloneable,
    checks.check_estimator_repr,
    checks.check_no_attributes_set_in_init,
    checks.check_do_not_raise_errors_in_init_or_set_params,
    checks.check_parameters_default_constructible,
    checks.check_get_params_invariance,
    checks.check_set_params,
    checks.check_mixin_order,
    checks.check_estimator_tags_renamed,
    checks.check_valid_tag_types,
    checks.check_transformers_unfitted,
]

PUBLIC_ESTIMATORS = [
    obj
    for name in sktransfer.__all__
    if inspect.isclass(obj := getattr(sktransfer, name)) and issubclass(obj, BaseEstimator)
]


def test_the_public_estimators_are_found():
    # Equality, not a subset: a public estimator missing here would skip every check.
    assert set(PUBLIC_ESTIMATORS) == {
        sktransfer.BackboneSelector,
        sktransfer.FineTuneClassifier,
        sktransfer.FineTuneRegressor,
        sktransfer.HeadClassifier,
        sktransfer.HeadRegressor,
        sktransfer.ImageEncoder,
        sktransfer.PixelEncoder,
        sktransfer.SentenceEncoder,
        sktransfer.WordVectorEncoder,
    }


# The fine-tuners take skorch's parameters of the net's parts as ``prefix__name``.
ROUTING = {sktransfer.FineTuneClassifier, sktransfer.FineTuneRegressor}


@pytest.mark.parametrize("check", DATA_FREE_CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("Estimator", PUBLIC_ESTIMATORS, ids=lambda e: e.__name__)
def test_data_free_api_checks(Estimator, check):
    check(Estimator.__name__, Estimator())


@pytest.mark.parametrize("Estimator", PUBLIC_ESTIMATORS, ids=lambda e: e.__name__)
def test_parameters_are_keyword_only_after_the_first(Estimator):
    parameters = list(inspect.signature(Estimator.__init__).parameters.values())[1:]
    allowed = (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.VAR_KEYWORD)
    assert all(p.kind in allowed for p in parameters[1:])
    last = inspect.Parameter.VAR_KEYWORD if Estimator in ROUTING else inspect.Parameter.KEYWORD_ONLY
    assert parameters[-1].kind is last


@pytest.mark.parametrize("Estimator", sorted(ROUTING, key=lambda e: e.__name__))
def test_skorch_parameters_are_routed_and_cloned(Estimator):
    model = Estimator(optimizer__weight_decay=0.05, iterator_train__num_workers=2)
    params = model.get_params()
    assert params["optimizer__weight_decay"] == 0.05
    assert params["iterator_train__num_workers"] == 2
    copy = clone(model).set_params(callbacks__print_log__sink=print, lr=0.1)
    assert copy.get_params()["callbacks__print_log__sink"] is print
    assert copy.lr == 0.1 and "callbacks__print_log__sink" not in model.get_params()
    assert "optimizer__weight_decay=0.05" in repr(model)

"""Every public estimator follows scikit-learn's API conventions.

The encoders read images or text, not the numeric matrices sklearn's full
``check_estimator`` feeds them, so they run the checks that need no data.
"""

import inspect

import pytest
from sklearn.base import BaseEstimator
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
    assert {
        sktransfer.ImageEncoder,
        sktransfer.PixelEncoder,
        sktransfer.SentenceEncoder,
        sktransfer.WordVectorEncoder,
    } <= set(PUBLIC_ESTIMATORS)


# The fine-tuners are skorch nets, and skorch's own design fails these three: its
# __init__ sets history_, initialized_ and virtual_params_, and its get_params
# reports every attribute of the instance (_params_to_validate included), which
# set_params cannot set to arbitrary values.
SKORCH_EXCEPTIONS = {
    "check_no_attributes_set_in_init",
    "check_set_params",
    "check_do_not_raise_errors_in_init_or_set_params",
}


def _is_skorch_net(Estimator):
    from skorch import NeuralNet

    return issubclass(Estimator, NeuralNet)


@pytest.mark.parametrize("check", DATA_FREE_CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("Estimator", PUBLIC_ESTIMATORS, ids=lambda e: e.__name__)
def test_data_free_api_checks(Estimator, check):
    if _is_skorch_net(Estimator) and check.__name__ in SKORCH_EXCEPTIONS:
        pytest.skip("a skorch net (see SKORCH_EXCEPTIONS)")
    check(Estimator.__name__, Estimator())


@pytest.mark.parametrize("Estimator", PUBLIC_ESTIMATORS, ids=lambda e: e.__name__)
def test_parameters_are_keyword_only_after_the_first(Estimator):
    parameters = list(inspect.signature(Estimator.__init__).parameters.values())[1:]
    # skorch nets take skorch's own parameters (module__..., callbacks__...) as **kwargs.
    allowed = (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.VAR_KEYWORD)
    assert all(p.kind in allowed for p in parameters[1:])
    assert _is_skorch_net(Estimator) or parameters[-1].kind is inspect.Parameter.KEYWORD_ONLY

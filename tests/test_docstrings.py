"""The public API's docstrings follow numpydoc, checked with ``numpydoc.validate``.

As scikit-learn's ``sklearn/tests/test_docstrings.py`` does: every class and
function in ``sktransfer.__all__`` and ``sktransfer.backbones.__all__``
(modules and plain constants skipped), and every public method or property of
those classes that sktransfer defines (what they inherit from scikit-learn,
torch or the built-in exceptions is documented there). One test per object,
named by its import path.
"""

import inspect

import pytest

import sktransfer
import sktransfer.backbones
import sktransfer.ranking

numpydoc_validation = pytest.importorskip("numpydoc.validate")

PUBLIC_MODULES = (sktransfer, sktransfer.backbones, sktransfer.ranking)

# Checks that are not required, and why:
# - GL01, GL02: where the summary starts and the closing quotes go; one-line
#   docstrings ("""Sorted names.""") are the project's style (sklearn ignores them too).
# - RT02: the Returns section may name the returned object (``self``), as in sklearn.
# - SA01: no "See Also" sections; the project has no rendered API reference for
#   them to link in, and cross references are written in the text instead.
ALWAYS_IGNORED = {"GL01", "GL02", "RT02", "SA01"}
# - ES01, EX01 for methods, properties and functions: a summary line and the
#   sections are enough; the extended summary and the examples belong to the
#   class (sklearn requires them only of classes as well).
IGNORED_FOR_MEMBERS = {"ES01", "EX01"}
# - EX01 for exceptions: the example of an exception is the function that
#   raises it; their extended summary (which built-in they subclass, who raises
#   them) is still required.
IGNORED_FOR_EXCEPTIONS = {"EX01"}


def _owner(cls, name):
    """The class of ``cls``'s MRO that defines ``name``."""
    return next(klass for klass in cls.__mro__ if name in vars(klass))


def _is_sktransfer(obj):
    return getattr(obj, "__module__", "").split(".")[0] == "sktransfer"


def _public_objects():
    """(import path, object, owning class or None, member name or None), once per object."""
    seen = set()
    for module in PUBLIC_MODULES:
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.ismodule(obj) or not callable(obj):
                continue  # sub-modules, and constants such as ENTRY_POINT_GROUP
            function = getattr(obj, "__func__", obj)  # backbones.get is Registry.get, bound
            if function in seen:
                continue
            seen.add(function)
            path = f"{module.__name__}.{name}"
            yield path, obj, None, None
            if not inspect.isclass(obj):
                continue
            for member in sorted(dir(obj)):
                if member.startswith("_"):
                    continue
                owner = _owner(obj, member)
                raw = vars(owner)[member]
                if not _is_sktransfer(owner):
                    continue  # inherited from sklearn, torch or a built-in
                if isinstance(raw, property):
                    function = raw.fget
                elif isinstance(raw, (staticmethod, classmethod)):
                    function = raw.__func__
                elif inspect.isfunction(raw):
                    function = raw
                else:
                    continue  # class attributes and dataclass field defaults
                if function in seen:  # ImageEncoder.transform is BaseEncoder.transform
                    continue
                seen.add(function)
                yield f"{path}.{member}", raw, obj, member


OBJECTS = list(_public_objects())


def _documented_ancestor(cls, member):
    """The class after ``member``'s owner in ``cls``'s MRO that documents it, if any.

    sktransfer's own are validated where they are defined; a library's (the
    skorch hooks that the fine-tuners override) are that library's.
    """
    mro = cls.__mro__
    for klass in mro[mro.index(_owner(cls, member)) + 1 :]:
        raw = vars(klass).get(member)
        if raw is not None:
            return klass if inspect.getdoc(raw) else None
    return None


def _errors(path, obj, cls, member):
    result = numpydoc_validation.validate(path)
    if cls is not None and not obj.__doc__ and _documented_ancestor(cls, member):
        # An override with no docstring of its own inherits its parent's (as
        # ``help()``, Sphinx and numpydoc show it), which is validated on the parent.
        return result, []
    ignored = set(ALWAYS_IGNORED)
    if member is not None or not inspect.isclass(obj):
        ignored |= IGNORED_FOR_MEMBERS
    if inspect.isclass(obj) and issubclass(obj, BaseException):
        ignored |= IGNORED_FOR_EXCEPTIONS
    if inspect.isclass(obj) and not _is_sktransfer(_owner(obj, "__init__")):
        # The signature is torch's or a built-in's (``*args, **kwargs``): nothing
        # of sktransfer's to document.
        ignored |= {"PR01", "PR02"}
    if isinstance(obj, property):
        # Properties have no signature numpydoc can read (as in sklearn).
        ignored |= {"PR02", "GL08"}
    return result, [(code, message) for code, message in result["errors"] if code not in ignored]


@pytest.mark.parametrize("path, obj, cls, member", OBJECTS, ids=[path for path, *_ in OBJECTS])
def test_docstring(path, obj, cls, member):
    result, errors = _errors(path, obj, cls, member)
    if errors:
        listing = "\n".join(f"  {code}: {message}" for code, message in errors)
        raise AssertionError(
            f"{path} ({result['file']}, line {result['file_line']}):\n{listing}\n\n"
            f"{result['docstring']}"
        )


def test_the_public_api_is_covered():
    paths = {path for path, *_ in OBJECTS}
    for expected in (
        "sktransfer.ImageEncoder",
        "sktransfer.ImageEncoder.fit",
        "sktransfer.ImageEncoder.transform",
        "sktransfer.SentenceEncoder.fit_transform",
        "sktransfer.WeightsNotFoundError",
        "sktransfer.backbones.BackboneSpec",
        "sktransfer.backbones.BackboneSpec.qualified_name",
        "sktransfer.backbones.Registry.resolve",
        "sktransfer.backbones.SequentialBackbone",
        "sktransfer.backbones.WeightsSource",
        "sktransfer.backbones.timm_specs",
    ):
        assert expected in paths
    # inherited from sklearn and torch: not ours to document
    assert "sktransfer.ImageEncoder.get_params" not in paths
    assert "sktransfer.backbones.ImageBackbone.parameters" not in paths

"""What the text encoders share: texts checked and known by their content, read once."""

from __future__ import annotations

from .._checks import check_texts, text_key
from ._base import BaseEncoder


class TextEncoder(BaseEncoder):
    """Base class of the encoders that read texts (an iterable of str)."""

    def _check_samples(self, X):
        return check_texts(X)

    def _sample_keys(self, samples):
        return [text_key(t) for t in samples]

    def fit_transform(self, X, y=None, **fit_params):
        """Fit on ``X`` and encode it, reading ``X`` once (it may be a generator).

        Parameters
        ----------
        X : iterable of str
            The texts: a list, an array, a Series, a one-column DataFrame or
            any iterable of str.
        y : None
            Ignored; accepted for Pipeline compatibility.
        **fit_params : dict
            Ignored; accepted for the signature of ``TransformerMixin.fit_transform``.

        Returns
        -------
        ndarray of shape (n_samples, n_features_out_), dtype float32
            One vector per text, in the order of ``X``.
        """
        texts = check_texts(X)
        self.fit(texts, y)
        # Not self.transform(texts): with set_output("pandas"), the frame must
        # take the index of X, not of the list made from it.
        return self._features(texts)

"""The one column an encoder reads, whatever pandas container it comes in."""


def single_column(X, *, what):
    """A one-column DataFrame or a Series as an object array; anything else unchanged.

    A ``ColumnTransformer`` hands an encoder a DataFrame when its column is
    selected as a list (``["path"]``) and a Series when selected by name.

    Examples
    --------
    >>> import pandas as pd
    >>> single_column(pd.DataFrame({"text": ["a", "b"]}), what="text").tolist()
    ['a', 'b']
    >>> single_column(["a"], what="text")
    ['a']
    """
    if hasattr(X, "iloc") and hasattr(X, "columns"):
        if X.shape[1] != 1:
            raise ValueError(
                f"X is a DataFrame with {X.shape[1]} columns; pass a single {what} column"
            )
        X = X.iloc[:, 0]
    if hasattr(X, "iloc"):
        X = X.to_numpy(dtype=object)
    return X

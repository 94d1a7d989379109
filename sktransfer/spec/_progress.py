"""Progress of a run on standard error: one line per fit of a search, epochs on request.

A search reports through scikit-learn's callback API (``set_callbacks``, in
scikit-learn 1.9 and later): each cross-validation fit begins and ends as a task
whose number says its candidate and fold. On a terminal that is a tqdm bar with
the time left; in a file or a pipe, one plain line per finished fit.
"""

from __future__ import annotations

import sys
import time

from tqdm.auto import tqdm

from ._report import plain  # numpy scalars (a randomized search's draws) as plain numbers


class SearchProgress:
    """A scikit-learn fit callback that shows a search's fits: candidate, fold, count, time left.

    Parameters
    ----------
    stream : file, default=sys.stderr
        Where the progress goes.

    Examples
    --------
    >>> import io
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.model_selection import GridSearchCV
    >>> stream = io.StringIO()
    >>> search = GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, cv=2)
    >>> search = search.set_callbacks(SearchProgress(stream=stream))
    >>> _ = search.fit([[0], [1], [2], [3]], [0, 1, 0, 1])
    >>> print(stream.getvalue().splitlines()[0].split(": ", 1)[1].split(";")[0])
    candidate 1/2 (C=0.1), fold 1/2
    """

    def __init__(self, stream=None):
        self.stream = stream

    def setup(self, estimator, context):
        self._bar = None

    def teardown(self, estimator, context):
        if self._bar is not None:
            self._bar.close()

    def on_fit_task_begin(self, estimator, context, **kwargs):
        if context.task_name == "search":
            self._start(estimator, context.max_subtasks + (estimator.refit is not False))
        elif context.task_name == "candidate-split-evaluation" and self._bar is not None:
            self._describe(*divmod(context.task_id, estimator.n_splits_), estimator)
        elif context.task_name == "refit-with-best-params" and self._bar is not None:
            self._label = "refit of the best candidate on all training data"
            self._bar.set_description_str(self._label, refresh=True)

    def on_fit_task_end(self, estimator, context, **kwargs):
        if self._bar is None or context.task_name not in (
            "candidate-split-evaluation",
            "refit-with-best-params",
        ):
            return False
        self._bar.update(1)
        self._done += 1
        if self._bar.disable:  # not a terminal: one line per finished fit
            now = time.perf_counter()
            took, elapsed, self._last = now - self._last, now - self._started, now
            left = elapsed / self._done * (self._total - self._done)
            print(
                f"fit {self._done}/{self._total} ({took:.1f} s): {self._label}; "
                f"{tqdm.format_interval(elapsed)} elapsed"
                + (f", about {tqdm.format_interval(left)} left" if left else ""),
                file=self._stream,
                flush=True,
            )
        return False

    def _start(self, estimator, total):
        self._stream = self.stream or sys.stderr
        terminal = getattr(self._stream, "isatty", lambda: False)()
        self._bar = tqdm(total=total, file=self._stream, disable=not terminal, unit="fit")
        self._started = self._last = time.perf_counter()
        self._done, self._total = 0, total
        self._params = candidate_params(estimator)

    def _describe(self, candidate, fold, estimator):
        shown = self._params[candidate].items()
        params = ", ".join(f"{k.rsplit('__', 1)[-1]}={plain(v)!r}" for k, v in shown)
        self._label = (
            f"candidate {candidate + 1}/{len(self._params)} ({params}), "
            f"fold {fold + 1}/{estimator.n_splits_}"
        )
        self._bar.set_description_str(self._label, refresh=True)


def candidate_params(search):
    """The candidates in the order the search evaluates them (its task numbers)."""
    from sklearn.model_selection import ParameterGrid, ParameterSampler

    if hasattr(search, "param_grid"):
        return list(ParameterGrid(search.param_grid))
    return list(
        ParameterSampler(
            search.param_distributions, search.n_iter, random_state=search.random_state
        )
    )

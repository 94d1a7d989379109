"""Long texts as overlapping windows of tokens, their embeddings pooled into one per text.

A sentence-transformers model reads at most ``max_seq_length`` tokens (special
tokens included) and cuts the rest. Read as windows, a text is split into
consecutive windows of that many tokens, each sharing its first
``overlap(max_seq_length)`` content tokens (an eighth of the window) with the end
of the one before, so every token is read and none is read in more than two
windows. Each window is embedded as a text of its own; the text's embedding is
the mean of its windows', weighted by their numbers of tokens. A text that fits
in one window is one window, tokenised as it would be truncated: its embedding
is exactly what the model gives it. The cost is proportional to the length.

The windows come from the Hugging Face tokenizer itself
(``return_overflowing_tokens`` with ``stride``), so they are the model's own
tokens; a fast tokenizer is needed.
"""

from __future__ import annotations

LONG_TEXTS = ("truncate", "windows")


def overlap(max_seq_length):
    """Tokens that consecutive windows share: an eighth of the window.

    Examples
    --------
    >>> overlap(256), overlap(128)
    (32, 16)
    """
    return max(1, max_seq_length // 8)


def _tokenizer(model):
    tokenizer = getattr(model, "tokenizer", None)
    if tokenizer is None or not getattr(tokenizer, "is_fast", False):
        raise ValueError(
            "long_texts='windows' needs a model with a fast Hugging Face tokenizer "
            f"(model.tokenizer); this one has {type(tokenizer).__name__}: use "
            "long_texts='truncate'"
        )
    return tokenizer


def windows(model, texts):
    """Token windows of ``texts``, as the model reads them.

    Parameters
    ----------
    model : SentenceTransformer
        Its ``tokenizer`` and ``max_seq_length`` set the windows.
    texts : list of str

    Returns
    -------
    windows : list of dict
        One per window, in text order: the tokenizer's fields (``input_ids``,
        ``attention_mask``...) as lists, special tokens included.
    text_index : list of int
        The index in ``texts`` of each window's text.
    """
    tokenizer = _tokenizer(model)
    size = int(model.max_seq_length)
    encoded = tokenizer(
        list(texts),
        truncation=True,
        max_length=size,
        stride=overlap(size),
        return_overflowing_tokens=True,
    )
    text_index = list(encoded.pop("overflow_to_sample_mapping"))
    fields = [k for k in encoded if k in ("input_ids", "attention_mask", "token_type_ids")]
    rows = [{k: encoded[k][i] for k in fields} for i in range(len(text_index))]
    return rows, text_index


def batch(model, rows, device=None):
    """Padded tensors of a batch of windows, as ``model`` takes them."""
    padded = _tokenizer(model).pad(rows, return_tensors="pt")
    return {k: v if device is None else v.to(device) for k, v in padded.items()}


def pooled(embeddings, text_index, lengths, n_texts):
    """Each text's embedding: its windows' embeddings averaged, weighted by their tokens.

    Parameters
    ----------
    embeddings : torch.Tensor of shape (n_windows, D)
    text_index : torch.Tensor of shape (n_windows,)
        The text of each window, in ``range(n_texts)``.
    lengths : torch.Tensor of shape (n_windows,)
        Tokens in each window.
    n_texts : int

    Returns
    -------
    torch.Tensor of shape (n_texts, D)
    """
    weights = lengths.to(device=embeddings.device, dtype=embeddings.dtype).unsqueeze(1)
    index = text_index.to(embeddings.device)
    total = embeddings.new_zeros(n_texts, embeddings.shape[1])
    total.index_add_(0, index, embeddings * weights)
    norm = embeddings.new_zeros(n_texts, 1).index_add_(0, index, weights)
    return total / norm


def embed(model, texts, *, batch_size, device, show_progress_bar=False):
    """Embeddings of whole ``texts`` read as windows (no gradient; ``model`` as it is).

    Windows are sorted by length and batched ``batch_size`` at a time, so each
    batch is padded as little as possible.

    Returns
    -------
    torch.Tensor of shape (len(texts), D), float32, on the CPU
    """
    import torch
    from tqdm.auto import tqdm

    rows, text_index = windows(model, texts)
    order = sorted(range(len(rows)), key=lambda i: -len(rows[i]["input_ids"]))
    outputs = [None] * len(rows)
    starts = range(0, len(order), batch_size)
    with torch.no_grad():
        for start in tqdm(starts, disable=not show_progress_bar, desc="windows"):
            chosen = order[start : start + batch_size]
            features = batch(model, [rows[i] for i in chosen], device)
            out = model(features)["sentence_embedding"].float().cpu()
            for i, vector in zip(chosen, out):
                outputs[i] = vector
    lengths = torch.tensor([len(r["input_ids"]) for r in rows])
    return pooled(torch.stack(outputs), torch.tensor(text_index), lengths, len(texts))

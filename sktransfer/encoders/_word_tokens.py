"""Vectorised tokenisation and vocabulary look-up for WordVectorEncoder's default tokenizer.

Tokenising with a regular expression and looking every token up in a dict
costs a few hundred nanoseconds per token in Python, more than the pooling
itself. Here a whole batch is done with numpy instead, without one Python
object per token:

1. the (lower-cased) texts are joined into one UTF-8 buffer;
2. each byte is classed as part of a word or not: a table for ASCII bytes; for
   the other characters, each distinct one in the batch is classed once with
   the same regular expression as the Python tokenizer (``\\w``);
3. tokens are the runs of word bytes (``np.diff`` of the class), each assigned
   to its text by its offset;
4. tokens of at most 15 bytes are packed, with their length, into two uint64
   words, hashed, and looked up in an open-addressing table of the vocabulary
   (exact: a hit compares the packed bytes, not just the hash); longer tokens,
   rare, go through the vocabulary dict.

The same machinery splits like ``str.split()`` (runs of non-whitespace). The
result is exactly what the Python path gives (the tests compare both).
"""

from __future__ import annotations

import re
import threading
import weakref

import numpy as np

WIDTH = 16  # bytes per packed key: two uint64 words
MAX_BYTES = WIDTH - 1  # the token's bytes; the last byte holds its length
_WORD_CHAR = re.compile(r"\w")


def _is_word_char(char):
    return _WORD_CHAR.match(char) is not None


def _is_token_char(char):  # what str.split() keeps
    return not char.isspace()


# Per mode: the class of each ASCII byte, and the test of any other character.
_MODES = {
    "word": (np.array([b < 128 and _is_word_char(chr(b)) for b in range(256)]), _is_word_char),
    "split": (np.array([b < 128 and _is_token_char(chr(b)) for b in range(256)]), _is_token_char),
}
# Bytes in a UTF-8 sequence, by its first byte (0 for continuation bytes).
_UTF8_LENGTH = np.array(
    [1] * 128 + [0] * 64 + [2] * 32 + [3] * 16 + [4] * 8 + [0] * 8, dtype=np.int64
)
_K0, _K1, _K2 = (np.uint64(k) for k in (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9))


def _byte_masks(width, dtype):
    """Row L keeps the first L bytes of a packed key and zeroes the rest."""
    masks = np.zeros((width + 1, width), dtype=np.uint8)
    for length in range(width + 1):
        masks[length, :length] = 0xFF
    return masks.view(dtype)


_MASKS = _byte_masks(WIDTH, np.uint64)
_MASK0, _MASK1 = _MASKS[:, 0].copy(), _MASKS[:, 1].copy()
_MASKS4 = _byte_masks(4, np.uint32)[:, 0]
# The length of a token in the last byte of its key (so that "ab" and "ab\x00" differ).
_LENGTH_BYTE = np.zeros((WIDTH, WIDTH), dtype=np.uint8)
_LENGTH_BYTE[:, -1] = np.arange(WIDTH)
_LENGTH1 = _LENGTH_BYTE.view(np.uint64)[:, 1].copy()


def _words_at(buf):
    """An (unaligned) uint64 view of ``buf`` starting at every byte: 8 bytes from each offset."""
    return np.ndarray(shape=(len(buf) - 7,), dtype=np.uint64, buffer=buf, strides=(1,))


def _pack(buf, starts, lengths):
    """The key of each token ``buf[start:start + length]`` (length <= MAX_BYTES).

    Two uint64 arrays: the token's bytes zero-padded to MAX_BYTES, then its
    length. ``buf`` must extend WIDTH bytes past the last token.
    """
    words = _words_at(buf)
    key0 = words[starts]
    key1 = words[starts + 8]
    key0 &= _MASK0[lengths]
    key1 &= _MASK1[lengths]
    key1 |= _LENGTH1[lengths]
    return key0, key1


def _hash(key0, key1):
    h = (key0 * _K0) ^ (key1 * _K1)
    h ^= h >> np.uint64(29)
    return h * _K2


class VocabularyTable:
    """An open-addressing hash table (linear probing) of a vocabulary's short words."""

    def __init__(self, words):
        encoded, ids = [], []
        for index, word in enumerate(words):
            if not isinstance(word, str):
                continue
            try:
                data = word.encode("utf-8")
            except UnicodeEncodeError:
                continue
            if 0 < len(data) <= MAX_BYTES:
                encoded.append(data)
                ids.append(index)
        self.n_words = len(words)
        lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
        buf = np.frombuffer(b" ".join(encoded) + b" " * WIDTH, dtype=np.uint8)
        starts = np.zeros(len(encoded), dtype=np.int64)
        np.cumsum(lengths[:-1] + 1, out=starts[1:])
        key0, key1 = _pack(buf, starts, lengths)
        # Row i is word ids[i]. The last row, which no token packs to (its length
        # byte would be 0xFF), is what an empty slot (-1) points at.
        sentinel = np.array([~np.uint64(0)])
        self.key0 = np.concatenate([key0, sentinel])
        self.key1 = np.concatenate([key1, sentinel])
        self.ids = np.asarray(ids + [-1], dtype=np.int64)
        bits = max(4, int(np.ceil(np.log2(max(len(encoded), 1) * 4))))  # load factor <= 0.25
        self.shift = np.uint64(64 - bits)
        self.mask = (1 << bits) - 1
        self.slots = np.full(1 << bits, -1, dtype=np.int32)  # a row of the keys, or -1
        self.max_probe = self._insert(_hash(key0, key1))

    def _insert(self, hashes):
        home = (hashes >> self.shift).astype(np.int64)
        pending = np.arange(len(home))
        probe = 0
        while len(pending):
            slot = (home[pending] + probe) & self.mask
            free = self.slots[slot] < 0
            # Several keys may want one free slot: the first of each takes it.
            taken, first = np.unique(slot[free], return_index=True)
            winners = pending[free][first]
            self.slots[taken] = winners
            placed = np.zeros(len(pending), dtype=bool)
            placed[np.flatnonzero(free)[first]] = True
            pending = pending[~placed]
            if len(pending):
                probe += 1
        return probe

    def lookup(self, key0, key1):
        """Vocabulary index of each packed token, -1 where it is not in the vocabulary."""
        out = np.full(len(key0), -1, dtype=np.int64)
        slot = (_hash(key0, key1) >> self.shift).astype(np.intp)
        where = None  # positions in `out` of the keys still probing (None: all of them)
        for _ in range(self.max_probe + 1):
            row = self.slots[slot]
            match = (self.key0[row] == key0) & (self.key1[row] == key1)
            hits = np.flatnonzero(match)
            out[hits if where is None else where[hits]] = self.ids[row[hits]]
            go_on = np.flatnonzero((row >= 0) & ~match)  # an empty slot ends the probe
            if not len(go_on):
                break
            where = go_on if where is None else where[go_on]
            slot = (slot[go_on] + 1) & self.mask
            key0, key1 = key0[go_on], key1[go_on]
        return out


_tables = weakref.WeakKeyDictionary()
_tables_lock = threading.Lock()


def table_for(kv):
    """The VocabularyTable of KeyedVectors ``kv``, built once and kept while ``kv`` lives."""
    n_words = len(kv.index_to_key)
    with _tables_lock:
        table = _tables.get(kv)
    if table is None or table.n_words != n_words:
        table = VocabularyTable(kv.index_to_key)
        with _tables_lock:
            _tables[kv] = table
    return table


def _class_non_ascii(buf, word, is_token_char):
    """Class the bytes of non-ASCII characters, one test per distinct character."""
    high = np.flatnonzero(buf >= 0x80)
    if not len(high):
        return
    is_lead = buf[high] >= 0xC0
    leads = high[is_lead]
    lengths = _UTF8_LENGTH[buf[leads]]
    codes = np.lib.stride_tricks.sliding_window_view(buf, 4)[leads].view(np.uint32)[:, 0]
    codes = codes & _MASKS4[lengths]
    distinct, inverse = np.unique(codes, return_inverse=True)
    classes = np.array(
        [
            is_token_char(int(code).to_bytes(4, "little").rstrip(b"\x00").decode("utf-8"))
            for code in distinct
        ],
        dtype=bool,
    )
    # Continuation bytes follow their lead byte, so a running count of leads
    # gives the character each high byte belongs to.
    word[high] = classes[inverse.ravel()][np.cumsum(is_lead) - 1]


def token_ids(texts, *, lowercase, table, key_to_index, mode="word"):
    """Token ids (``-1`` when out of vocabulary) and where each text's tokens start.

    Text ``i`` has the tokens ``ids[indptr[i]:indptr[i + 1]]``.

    ``mode`` "word" gives the tokens of the default tokenizer (``TOKEN_PATTERN``), "split"
    those of ``str.split()`` (runs of non-whitespace).

    Raises UnicodeEncodeError for texts that are not valid Unicode (lone
    surrogates): the caller then takes the Python path.
    """
    parts = [(text.lower() if lowercase else text).encode("utf-8") for text in texts]
    n_texts = len(parts)
    sizes = np.fromiter(map(len, parts), dtype=np.int64, count=n_texts)
    joined = b"\n".join(parts)
    text_starts = np.zeros(n_texts, dtype=np.int64)
    np.cumsum(sizes[:-1] + 1, out=text_starts[1:])
    # Padding: every window of WIDTH (and of 4) bytes starting in the text exists,
    # and the last run of word bytes ends before the buffer does.
    buf = np.frombuffer(joined + b"\n" * WIDTH, dtype=np.uint8)
    ascii_classes, is_token_char = _MODES[mode]
    word = ascii_classes[buf]
    if not joined.isascii():
        _class_non_ascii(buf, word, is_token_char)
    edges = np.flatnonzero(np.diff(word.view(np.int8), prepend=np.int8(0)))
    starts, ends = edges[0::2], edges[1::2]
    lengths = ends - starts
    # Texts are in buffer order, so the first token of each is found by bisection.
    indptr = np.empty(n_texts + 1, dtype=np.int64)
    indptr[:-1] = np.searchsorted(starts, text_starts)
    indptr[-1] = len(starts)
    ids = np.empty(len(starts), dtype=np.int64)
    short = lengths <= MAX_BYTES
    if short.all():
        ids[:] = table.lookup(*_pack(buf, starts, lengths))
    else:
        ids[short] = table.lookup(*_pack(buf, starts[short], lengths[short]))
        get = key_to_index.get
        for i in np.flatnonzero(~short):
            ids[i] = get(joined[starts[i] : ends[i]].decode("utf-8"), -1)
    return ids, indptr

"""Token encoding and decoding (STEP.md §2.2–2.3): worked examples and round-trip properties."""
import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from step_lab.ir.tokens import DONE, S, Stop, count_data, decode, encode, format_tokens, is_stop

S1, S2, S3 = S(1), S(2), S(3)


# -- stop tokens and Done ---------------------------------------------------------------------
def test_stop_tokens_are_interned_per_level():
    assert S(2) is S(2) and Stop(2) is S(2)
    assert S(1) is not S(2)
    assert S(3).level == 3
    assert repr(S(4)) == "S4"


@pytest.mark.parametrize("level", [0, -1, 2.5, "1"])
def test_stop_token_rejects_levels_below_one_or_non_int(level):
    with pytest.raises(ValueError, match="stop token level"):
        Stop(level)


def test_done_is_a_singleton_that_survives_pickling():
    assert pickle.loads(pickle.dumps(DONE)) is DONE
    assert pickle.loads(pickle.dumps(S(3))) is S(3)
    assert repr(DONE) == "Done"


def test_is_stop_is_true_only_for_stop_tokens():
    assert is_stop(S1)
    assert not is_stop(DONE)
    assert not is_stop(1)
    assert not is_stop("S1")


# -- §2.2 worked examples ------------------------------------------------------------------------
def test_two_vectors_of_three_elements_encode_with_s1_after_each():
    assert encode([["a", "b", "c"], ["d", "e", "f"]], 1) == \
        ["a", "b", "c", S1, "d", "e", "f", S1, DONE]


def test_one_matrix_ends_with_s2_only_highest_token():
    assert encode([[["a", "b", "c"], ["d", "e", "f"]]], 2) == \
        ["a", "b", "c", S1, "d", "e", "f", S2, DONE]


def test_three_scalars_in_a_rank_zero_stream_carry_no_stop_tokens():
    assert encode(["x", "y", "z"], 0) == ["x", "y", "z", DONE]


def test_the_papers_ragged_example_encodes_token_for_token():
    tensors = [[[1, 2], [3]], [[4], [5, 6, 7]]]
    tokens = [1, 2, S1, 3, S2, 4, S1, 5, 6, 7, S2, DONE]
    assert encode(tensors, 2) == tokens
    assert decode(tokens, 2) == tensors


@pytest.mark.parametrize("rank", [0, 1, 2, 3])
def test_an_empty_stream_of_any_rank_is_just_done(rank):
    assert encode([], rank) == [DONE]
    assert decode([DONE], rank) == []


@pytest.mark.parametrize("tensors, rank", [
    ([["a", "b", "c"], ["d", "e", "f"]], 1),
    ([[["a", "b", "c"], ["d", "e", "f"]]], 2),
    (["x", "y", "z"], 0),
])
def test_worked_examples_decode_back_to_their_content(tensors, rank):
    assert decode(encode(tensors, rank), rank) == tensors


# -- §2.3 empty sub-tensors --------------------------------------------------------------------
def test_a_stop_directly_after_a_stop_denotes_an_empty_sub_tensor():
    assert decode(["a", S1, S2, DONE], 2) == [[["a"], []]]
    assert encode([[["a"], []]], 2) == ["a", S1, S2, DONE]


def test_a_lone_s1_in_a_rank_one_stream_is_one_empty_vector():
    assert decode([S1, DONE], 1) == [[]]
    assert encode([[]], 1) == [S1, DONE]


def test_an_empty_matrix_and_a_matrix_with_one_empty_row_encode_alike():
    assert encode([[]], 2) == encode([[[]]], 2) == [S2, DONE]
    assert decode([S2, DONE], 2) == [[[]]]          # decoders return the [[]] form


def test_empty_vectors_between_elements_survive_the_round_trip():
    tensors = [[[], [1], []], [[2, 3]]]
    tokens = encode(tensors, 2)
    assert tokens == [S1, 1, S1, S2, 2, 3, S2, DONE]
    assert decode(tokens, 2) == tensors


def test_decode_rejects_stop_tokens_above_the_stream_rank():
    with pytest.raises(ValueError, match="S3"):
        decode([1, S3, DONE], 2)


def test_format_tokens_and_count_data_read_like_the_spec():
    tokens = encode([[[1, 2], [3]]], 2)
    assert format_tokens(tokens) == "1 2 S1 3 S2 Done"
    assert format_tokens(tokens, show=lambda x: f"<{x}>") == "<1> <2> S1 <3> S2 Done"
    assert count_data(tokens) == 3


# -- round-trip property ------------------------------------------------------------------------
def _tensor(rank: int):
    """Rank-k tensors obeying the §2.3 limitation: no empty tensor of rank >= 2."""
    if rank == 0:
        return st.integers(-5, 5)
    if rank == 1:
        return st.lists(st.integers(-5, 5), max_size=4)
    return st.lists(_tensor(rank - 1), min_size=1, max_size=3)


@st.composite
def _streams(draw):
    rank = draw(st.integers(0, 4))
    return rank, draw(st.lists(_tensor(rank), max_size=4))


@settings(max_examples=200, deadline=None)
@given(_streams())
def test_decode_inverts_encode_for_random_nested_lists(stream):
    rank, tensors = stream
    assert decode(encode(tensors, rank), rank) == tensors


@settings(max_examples=200, deadline=None)
@given(_streams())
def test_every_top_level_tensor_ends_with_exactly_s_rank(stream):
    rank, tensors = stream
    tokens = encode(tensors, rank)
    assert tokens[-1] is DONE and DONE not in tokens[:-1]
    assert all(t.level <= rank for t in tokens if is_stop(t))
    if rank >= 1:
        assert sum(1 for t in tokens if t is S(rank)) == len(tensors)
        if tensors:
            assert tokens[-2] is S(rank)
    else:
        assert not any(is_stop(t) for t in tokens)
    assert count_data(tokens) == sum(_count(t, rank) for t in tensors)


def _count(t, rank: int) -> int:
    return 1 if rank == 0 else sum(_count(c, rank - 1) for c in t)

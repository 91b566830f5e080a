"""Symbolic dimensions (STEP.md §2.5): exact ceilings, emptiness, evaluation and formatting."""
import pytest
import sympy
from hypothesis import given
from hypothesis import strategies as st

from step_lab.errors import BindingError, ShapeError
from step_lab.symbolic import (
    as_dim,
    ceil_div,
    dim,
    dims_equal,
    evaluate,
    fmt,
    free_symbols,
    is_static,
    latex,
    nonempty,
    product,
    shapes_equal,
    try_int,
)

X, Y = dim("X"), dim("Y")


# -- dim / as_dim ---------------------------------------------------------------------------------
def test_dims_with_the_same_name_are_the_same_nonnegative_integer_symbol():
    assert dim("X") is X
    assert dim("X") == sympy.Symbol("X", integer=True, nonnegative=True)
    assert X.is_integer and X.is_nonnegative


@pytest.mark.parametrize("name", ["", "1X", "a-b", 3])
def test_dim_rejects_names_that_are_not_identifiers(name):
    with pytest.raises(ShapeError, match="dim name"):
        dim(name)


def test_as_dim_keeps_ints_and_turns_integer_expressions_into_ints():
    assert as_dim(5) == 5 and type(as_dim(5)) is int
    assert type(as_dim(sympy.Integer(7))) is int
    assert as_dim(X + 1) == X + 1


@pytest.mark.parametrize("value, match", [
    (-1, "negative"), (True, "bool"), (1.5, "type float"), (sympy.Rational(1, 2), "not an integer"),
    ("4", "type str"),
])
def test_as_dim_rejects_non_dims(value, match):
    with pytest.raises(ShapeError, match=match):
        as_dim(value, what="stream dim")


# -- ceil_div / nonempty ---------------------------------------------------------------------------
@pytest.mark.parametrize("c", range(1, 10))
def test_ceil_div_of_a_symbol_is_exact_for_every_small_integer(c):
    expr = ceil_div(X, c)
    for x in range(0, 120):
        assert evaluate(expr, {"X": x}) == -(-x // c), (x, c)


@given(st.integers(0, 10**12), st.integers(1, 10**6))
def test_ceil_div_of_ints_is_exact_integer_ceiling(x, c):
    got = ceil_div(x, c)
    assert type(got) is int
    assert got == (x + c - 1) // c
    assert got * c >= x > (got - 1) * c or x == 0


@given(st.integers(0, 10**15), st.integers(1, 1000))
def test_ceil_div_of_a_symbol_stays_exact_for_huge_integers(x, c):
    assert evaluate(ceil_div(X, c), {X: x}) == -(-x // c)


def test_ceil_div_of_a_sum_is_exact():
    expr = ceil_div(X + Y, 4)
    for x in range(0, 9):
        for y in range(0, 9):
            assert evaluate(expr, {"X": x, "Y": y}) == -(-(x + y) // 4)


def test_nonempty_is_one_for_positive_counts_and_zero_for_zero():
    assert nonempty(0) == 0 and nonempty(3) == 1
    expr = nonempty(X)
    assert isinstance(expr, sympy.Piecewise)
    assert [evaluate(expr, {"X": x}) for x in range(5)] == [0, 1, 1, 1, 1]


def test_nonempty_is_exact_on_products_sums_ceilings_and_indicators():
    exprs = [X * Y, 3 * X + ceil_div(Y, 4), nonempty(X) * 24 + nonempty(Y) * 24,
             X * ceil_div(Y, 4) + nonempty(X + Y), X - 1 + Y, X ** 2, 2 * X * Y, ceil_div(X, 4)]
    for expr in exprs:
        ne = nonempty(expr)
        for x in range(4):
            for y in range(4):
                value = evaluate(expr, {"X": x, "Y": y}) if expr.free_symbols else expr
                got = evaluate(ne, {"X": x, "Y": y}) if hasattr(ne, "free_symbols") else ne
                assert got == (1 if value > 0 else 0), (expr, x, y)


def test_nonempty_builds_its_condition_from_the_factors_and_terms():
    # a product needs every factor, a sum one term; indicators are never nested in a condition
    # (sympy would fold them: seconds per call on a 3,000-node MoE program)
    assert nonempty(X * ceil_div(Y, 4)).args[0][1] == sympy.And(X >= 1, Y >= 1)
    indicators = sum(nonempty(dim(f"E{i}")) * 24 for i in range(40))
    cond = nonempty(indicators).args[0][1]
    assert cond == sympy.Or(*[dim(f"E{i}") >= 1 for i in range(40)])
    assert nonempty(3 * X + 2) == 1 and nonempty(0 * X) == 0
    assert fmt(nonempty(X + Y)) == "[(X>0) ∨ (Y>0)]"


def test_evaluate_rational_is_exact_at_mean_bindings():
    from fractions import Fraction

    from step_lab.symbolic import evaluate_rational
    expr = 3 * X / 2 + ceil_div(X, 4) * nonempty(X + Y)
    assert evaluate_rational(expr, {"X": Fraction(7, 2), "Y": 0}) == Fraction(25, 4)
    assert evaluate_rational(expr, {X: 8, Y: 1}) == 14
    with pytest.raises(BindingError, match="unbound symbols"):
        evaluate_rational(expr, {"X": 1})


# -- equality, products, symbols ---------------------------------------------------------------
def test_dims_equal_follows_the_spec_rules():
    assert dims_equal(4, 4) and not dims_equal(4, 5)
    assert dims_equal(2 * (X + 1), 2 * X + 2)
    assert not dims_equal(X, Y)
    assert not dims_equal(X, 4)            # int vs symbolic: unequal even if X may be 4
    assert shapes_equal((2, X), (2, X)) and not shapes_equal((2, X), (2, X, 1))


def test_product_keeps_ints_as_ints_and_builds_expressions():
    assert product([2, 3, 4]) == 24 and type(product([2, 3, 4])) is int
    assert product([]) == 1
    assert evaluate(product([4, X]), {"X": 3}) == 12
    assert is_static(product([2, 3])) and not is_static(product([2, X]))


def test_free_symbols_walks_nested_shapes():
    assert free_symbols((2, X), [ceil_div(Y, 4)], 7) == {X, Y}


# -- evaluate / try_int -------------------------------------------------------------------------
def test_evaluate_accepts_names_or_symbols_as_keys():
    assert evaluate(4 * X + Y, {"X": 2, Y: 1}) == 9
    assert evaluate(12, {}) == 12


def test_evaluate_lists_every_unbound_symbol():
    z = dim("Z")
    with pytest.raises(BindingError, match="unbound symbols") as err:
        evaluate(X + Y + z, {"X": 1}, where="node 'accum0'")
    msg = str(err.value)
    listed = msg.split("{")[1].split("}")[0]
    assert sorted(listed.replace("'", "").split(", ")) == ["Y", "Z"]
    assert "accum0" in msg and "bindings=" in msg


def test_evaluate_rejects_non_integer_results():
    with pytest.raises(BindingError, match="expected an integer"):
        evaluate(X / 2, {"X": 3})


def test_try_int_returns_none_instead_of_raising():
    assert try_int(X, {}) is None
    assert try_int(X, None) is None
    assert try_int(ceil_div(X, 4), {"X": 9}) == 3
    assert try_int(5) == 5


# -- formatting ------------------------------------------------------------------------------------
def test_fmt_prints_ceilings_and_products_like_the_paper():
    assert fmt(7) == "7"
    assert fmt(ceil_div(X, 4)) == "⌈X/4⌉"
    assert fmt(4 * X) == "4·X"
    assert fmt(X * Y) == "X·Y"
    assert fmt(X ** 2) == "X^2"


def test_latex_renders_a_ceiling():
    assert "lceil" in latex(ceil_div(X, 4))

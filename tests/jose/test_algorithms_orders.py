"""The curve orders used to range-check ECDSA signatures are the standard ones (SEC 2)."""

import pytest

from daloy_edge.jose._algorithms import _P256, _P384, _P521


def _probably_prime(n: int) -> bool:
    d, r = n - 1, 0
    while d % 2 == 0:
        d, r = d // 2, r + 1
    for a in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37):
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


@pytest.mark.parametrize(("order", "bits"), [(_P256, 256), (_P384, 384), (_P521, 521)])
def test_curve_order_has_the_curve_size_and_is_prime(order: int, bits: int) -> None:
    assert order.bit_length() == bits
    assert _probably_prime(order)

import platform

import pytest

from tabserve.service.http.allocator import tune_allocator


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt thresholds are a glibc feature")
def test_glibc_takes_the_thresholds():
    assert tune_allocator() is True

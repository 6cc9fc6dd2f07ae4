"""The CI switch ``BAYES_W2S_STRICT_IMPORTS=1`` (tests/conftest.py) turns every skip into a failure.

Each test runs a small throw-away suite in a fresh pytest subprocess, with the real
``tests/conftest.py`` as its conftest, once without and once with the flag.
"""

from pathlib import Path

import pytest

CONFTEST = Path(__file__).with_name("conftest.py").read_text()

SUITE = {
    "test_kinds": """
        import pytest

        def test_importorskip_missing():
            pytest.importorskip("bayes_w2s_no_such_module_xyz")

        def test_importorskip_present_returns_the_module():
            json = pytest.importorskip("json")
            assert json.dumps([1]) == "[1]"

        def test_importorskip_broken_module():
            pytest.importorskip("broken_mod")

        def test_runtime_skip():
            pytest.skip("no GPU here")

        @pytest.mark.skipif(True, reason="platform says no")
        def test_skipif():
            pass

        @pytest.mark.xfail(reason="known bug", strict=True)
        def test_xfail():
            assert False

        def test_plain():
            assert True
    """,
    "test_module_level": """
        import pytest

        pytest.importorskip("bayes_w2s_other_missing_module")

        def test_never_collected():
            pass
    """,
    "test_module_skip": """
        import pytest

        pytest.skip("module needs a dataset", allow_module_level=True)

        def test_never_collected_either():
            pass
    """,
}
BROKEN = "import bayes_w2s_dependency_that_is_gone  # a broken import inside an installed module\n"


@pytest.fixture
def suite(pytester):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(**SUITE)
    pytester.makepyfile(broken_mod=BROKEN)
    pytester.syspathinsert()
    return pytester


def test_without_the_flag_skips_stay_skips(suite, monkeypatch):
    monkeypatch.delenv("BAYES_W2S_STRICT_IMPORTS", raising=False)
    result = suite.runpytest_subprocess("-p", "no:cacheprovider", "-rs")
    # four skips in test_kinds plus the two skipped modules
    result.assert_outcomes(passed=2, skipped=6, xfailed=1)
    assert result.ret == 0


def test_with_the_flag_every_skip_fails_and_names_its_cause(suite, monkeypatch):
    monkeypatch.setenv("BAYES_W2S_STRICT_IMPORTS", "1")
    result = suite.runpytest_subprocess("-p", "no:cacheprovider", "-rfE", "--continue-on-collection-errors")
    # importorskip (2) and pytest.skip fail in the call; skipif fails in setup (an error);
    # the two skipped modules become collection errors
    result.assert_outcomes(passed=2, failed=3, errors=3, xfailed=1, skipped=0)
    out = result.stdout.str()
    # missing and broken modules fail with their own ImportError, not a skip message
    assert "No module named 'bayes_w2s_no_such_module_xyz'" in out
    assert "No module named 'bayes_w2s_dependency_that_is_gone'" in out
    assert "No module named 'bayes_w2s_other_missing_module'" in out
    # other skips fail with the flag's name and the skip's reason
    assert "BAYES_W2S_STRICT_IMPORTS=1 forbids skips" in out
    assert "no GPU here" in out and "platform says no" in out and "module needs a dataset" in out
    assert result.ret != 0


def test_a_collection_error_under_the_flag_fails_the_run(suite, monkeypatch):
    monkeypatch.setenv("BAYES_W2S_STRICT_IMPORTS", "1")
    result = suite.runpytest_subprocess("-p", "no:cacheprovider", "test_module_skip.py")
    result.assert_outcomes(errors=1)
    assert result.ret != 0


def test_zero_leaves_the_flag_off(suite, monkeypatch):
    monkeypatch.setenv("BAYES_W2S_STRICT_IMPORTS", "0")
    result = suite.runpytest_subprocess("-p", "no:cacheprovider", "test_kinds.py")
    result.assert_outcomes(passed=2, skipped=4, xfailed=1)

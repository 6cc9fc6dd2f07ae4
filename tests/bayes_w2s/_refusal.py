"""A refusal at the public boundary, checked by the argument it names."""

import pytest

from bayes_w2s.core.validation import ValidationError


def refused(call, argument, fragment=None) -> str:
    """``call()`` raises :class:`ValidationError` naming ``argument`` (and containing
    ``fragment``); returns the message."""
    with pytest.raises(ValidationError) as err:
        call()
    assert err.value.argument == argument, (err.value.argument, str(err.value))
    if fragment is not None:
        assert fragment in str(err.value), str(err.value)
    return str(err.value)

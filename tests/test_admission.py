"""Admission control of uncached searches (serving policy, in web/), on its own. The 503 through
the API and the pages is tested in test_api.py."""

from __future__ import annotations

import pytest

from kunskap.errors import OverloadedError
from kunskap.web.admission import Admission


def test_admission_refuses_beyond_the_limit_and_frees_the_slot():
    admission = Admission(max_pending=1)
    with admission.admit():
        with pytest.raises(OverloadedError) as refused:
            with admission.admit():
                pass
        assert "Försök igen" in refused.value.message
    with pytest.raises(RuntimeError):
        with admission.admit():
            raise RuntimeError("a failed search")
    with admission.admit():     # the slot was given back, after a refusal and after an error
        pass
    unlimited = Admission(max_pending=0)
    with unlimited.admit(), unlimited.admit():
        pass

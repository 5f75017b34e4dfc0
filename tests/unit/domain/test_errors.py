import pytest

from dli.domain.model import errors
from dli.domain.model.errors import DLIError, ErrorCode, ServerError, error_for_code


@pytest.mark.parametrize("code", list(ErrorCode))
def test_every_code_maps_back_to_its_exception(code):
    exc = error_for_code(code.value, "msg", hints=["h"], details={"k": 1})
    assert exc.code is code and isinstance(exc, DLIError)
    assert str(exc) == f"[{code.value}] msg" and exc.hints == ("h",) and exc.details == {"k": 1}


def test_unknown_codes_become_server_errors():
    assert type(error_for_code("DLI-999", "x")) is ServerError


def test_codes_are_those_of_the_design_brief():
    assert errors.WorkflowAlreadyExistsError.code.value == "DLI-804"
    assert errors.InvalidCronError.code.value == "DLI-805"
    assert errors.WorkflowOverriddenError.code.value == "DLI-806"
    assert errors.DatasetNotFoundError.code.value == "DLI-101"
    assert repr(errors.InvalidStateError("x")) == "InvalidStateError('x')"

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


def _every_error_class() -> list[type[DLIError]]:
    # Subclasses defined outside the domain (the wire codec's) count too.
    import dli.adapters.basecamp.operations  # noqa: F401

    found, todo = [], [DLIError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


@pytest.mark.parametrize("cls", _every_error_class(), ids=lambda cls: cls.__name__)
def test_every_error_has_a_hint_even_when_its_raiser_gives_none(cls):
    """The README promises hint lines under every error: a raiser without one gets its class's."""
    hints = cls("something went wrong").hints
    assert hints and all(isinstance(h, str) and h.strip() for h in hints)


@pytest.mark.parametrize("code", [c for c in ErrorCode if c is not ErrorCode.SERVER_ERROR])
def test_every_code_has_a_default_hint_of_its_own(code):
    hints = error_for_code(code.value, "msg").hints
    assert hints and hints != DLIError.default_hints


def test_hints_given_replace_the_default():
    assert errors.WorkflowAlreadyExistsError("x", hints=["one"]).hints == ("one",)


def test_the_unreachable_server_hint_names_the_dev_stack_commands():
    hint = " ".join(errors.ServerUnreachableError("x").hints)
    assert "dli dev status" in hint and "dli dev up" in hint


def test_a_code_from_the_wire_becomes_the_class_that_states_it_not_a_subclass_inheriting_it():
    stating = [
        c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, DLIError) and "code" in vars(c)
    ]
    assert {type(error_for_code(c.code.value, "x")) for c in stating} == set(stating) - {DLIError}
    assert type(error_for_code(ErrorCode.SERVER_ERROR.value, "x")) is ServerError  # not StoreUnavailableError

"""Settings: refused values are described by the variables a user sets."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from hallmark.settings import Settings, settings_problem


def test_a_refused_value_is_named_by_its_environment_variable() -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(verify_threads=-2)
    assert settings_problem(refused.value) == (
        "invalid setting HALLMARK_VERIFY_THREADS=-2: Input should be greater than or equal to 0"
    )


def test_another_models_validation_error_is_not_a_settings_problem() -> None:
    class Other(BaseModel):
        count: int

    with pytest.raises(ValidationError) as refused:
        Other(count="x")  # type: ignore[arg-type]
    assert settings_problem(refused.value) is None

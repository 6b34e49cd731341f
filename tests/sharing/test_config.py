"""Sharing settings from the environment: defaults, and clear errors naming the variable."""

from __future__ import annotations

import pytest
from honeycomb_evaluator.sharing.config import ConfigError, SharingConfig


def test_defaults() -> None:
    config = SharingConfig.from_env({})
    assert config.backend == "memory" and config.table_name is None
    assert config.budget.capacity(relational=False) == 9
    assert config.budget.capacity(relational=True) == 1
    assert config.budget.token_lifetime == 62


def test_dynamodb_with_a_custom_budget() -> None:
    config = SharingConfig.from_env(
        {
            "EVALUATOR_STATE_BACKEND": "DynamoDB",
            "EVALUATOR_TABLE_NAME": "state",
            "EVALUATOR_RATE_LIMIT_PER_MINUTE": "20",
            "EVALUATOR_RATE_HEADROOM": "4",
            "EVALUATOR_RATE_WINDOW_SECONDS": "30",
        }
    )
    assert config.backend == "dynamodb" and config.table_name == "state"
    assert config.budget.capacity(relational=False) == 16 and config.budget.window_seconds == 30


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"EVALUATOR_STATE_BACKEND": "redis"}, "EVALUATOR_STATE_BACKEND"),
        ({"EVALUATOR_STATE_BACKEND": "dynamodb"}, "EVALUATOR_TABLE_NAME"),
        ({"EVALUATOR_RATE_LIMIT_PER_MINUTE": "ten"}, "EVALUATOR_RATE_LIMIT_PER_MINUTE"),
        ({"EVALUATOR_RATE_LIMIT_PER_MINUTE": "0"}, "EVALUATOR_RATE_LIMIT_PER_MINUTE"),
        ({"EVALUATOR_RATE_HEADROOM": "10"}, "EVALUATOR_RATE_HEADROOM"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], names: str) -> None:
    with pytest.raises(ConfigError, match=names):
        SharingConfig.from_env(env)

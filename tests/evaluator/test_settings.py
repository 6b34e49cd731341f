"""Sharing settings from the environment: defaults, and clear errors naming the variable."""

from __future__ import annotations

import pytest
from honeycomb_evaluator.settings import ConfigError, Settings


def test_defaults() -> None:
    config = Settings.from_env({})
    assert config.state.backend == "memory" and config.state.table_name is None
    assert config.budget.capacity(relational=False) == 9
    assert config.budget.capacity(relational=True) == 1
    assert config.budget.token_lifetime == 62


def test_dynamodb_with_a_custom_budget() -> None:
    config = Settings.from_env(
        {
            "EVALUATOR_STATE_BACKEND": "DynamoDB",
            "EVALUATOR_TABLE_NAME": "state",
            "EVALUATOR_RATE_LIMIT_PER_MINUTE": "20",
            "EVALUATOR_RATE_HEADROOM": "4",
            "EVALUATOR_RATE_WINDOW_SECONDS": "30",
        }
    )
    assert config.state.backend == "dynamodb" and config.state.table_name == "state"
    assert config.budget.capacity(relational=False) == 16 and config.budget.window_seconds == 30


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"EVALUATOR_STATE_BACKEND": "postgres"}, "EVALUATOR_STATE_BACKEND"),
        ({"EVALUATOR_STATE_BACKEND": "redis"}, "EVALUATOR_REDIS_URL"),
        ({"EVALUATOR_ALLOW_ANONYMOUS": "maybe"}, "EVALUATOR_ALLOW_ANONYMOUS"),
        ({"HONEYCOMB_SECRET_MAX_AGE": "-1"}, "HONEYCOMB_SECRET_MAX_AGE"),
        ({"EVALUATOR_STATE_BACKEND": "dynamodb"}, "EVALUATOR_TABLE_NAME"),
        ({"EVALUATOR_RATE_LIMIT_PER_MINUTE": "ten"}, "EVALUATOR_RATE_LIMIT_PER_MINUTE"),
        ({"EVALUATOR_RATE_LIMIT_PER_MINUTE": "0"}, "EVALUATOR_RATE_LIMIT_PER_MINUTE"),
        ({"EVALUATOR_RATE_HEADROOM": "10"}, "EVALUATOR_RATE_HEADROOM"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], names: str) -> None:
    with pytest.raises(ConfigError, match=names):
        Settings.from_env(env)


@pytest.mark.parametrize(
    ("raw", "allowed"), [("on", True), ("TRUE", True), ("1", True), ("off", False), ("", False)]
)
def test_one_rule_for_every_flag(raw: str, allowed: bool) -> None:
    """EVALUATOR_ALLOW_ANONYMOUS=on once meant yes to one reader and no to another."""
    assert Settings.from_env({"EVALUATOR_ALLOW_ANONYMOUS": raw}).callers.allow_anonymous is allowed

"""The command-line edge: every entry point answers a bad config or a tap error in one line.

The SDK would print a traceback, or its config errors over several lines. A sync, `--about`,
`--discover` and `--test` each come through here: `--discover` and `--test` run in click
callbacks, before `invoke`, so each callback is wrapped.
"""

from __future__ import annotations

import copy
import json
import os
import sys
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn

from singer_sdk import Tap
from singer_sdk.exceptions import ConfigValidationError, MappingError
from singer_sdk.tap_base import CliTestOptionValue
from typing_extensions import override

from tap_happytalk.errors import ConfigError, TapHappyTalkError, redact

if TYPE_CHECKING:
    from collections.abc import Iterator

    import click

TOKEN_ENV = "TAP_HAPPYTALK_TOKEN"  # noqa: S105 - the name of a variable, not a token
# Stand-ins for the required settings when --about or --discover checks what else is given.
PLACEHOLDERS = {"token": "placeholder", "start_date": "2000-01-01"}


class OneLineErrorTap(Tap):
    """The SDK's Tap, whose every command-line entry point fails in one line with exit 1."""

    @override
    @classmethod
    def invoke(cls, **kwargs: Any) -> None:
        """Run the tap as the SDK would, with the tap's one-line errors."""
        config = kwargs.get("config")
        with cls._one_line_errors(config):
            cls._check_config(config, complete=not kwargs.get("about"))
            super().invoke(**kwargs)

    @override
    @classmethod
    def cb_config(cls, ctx: click.Context, param: click.Option, value: tuple[str, ...]) -> Any:
        """Read the config files, or say in one line which could not be read."""
        try:
            return super().cb_config(ctx, param, value)
        except (OSError, ValueError, TypeError) as exc:
            files = ", ".join(name for name in value if name != "ENV")
            cls._fail(f"invalid config: {files} is not a readable JSON object ({exc})")

    @override
    @classmethod
    def cb_discover(cls, ctx: click.Context, param: click.Option, value: bool) -> None:
        """Discover, after checking any config given."""
        config = ctx.params.get("config")
        with cls._one_line_errors(config):
            if value:
                cls._check_config(config, complete=False)
            super().cb_discover(ctx, param, value)

    @override
    @classmethod
    def cb_test(cls, ctx: click.Context, param: click.Option, value: str) -> None:
        """Test the connection, with the tap's one-line errors."""
        config = ctx.params.get("config")
        with cls._one_line_errors(config):
            if value != CliTestOptionValue.Disabled.value:
                cls._check_config(config, complete=True)
            super().cb_test(ctx, param, value)

    @classmethod
    def _check_config(cls, config: Any, *, complete: bool) -> None:  # noqa: ANN401 - SDK's input
        """Check the config as a sync would: files, environment, settings and stream maps.

        A sync or `--test` (`complete`) builds the tap right after, which checks the settings
        and stream maps; only the environment is checked here, since the SDK would read a bad
        value there with a traceback. `--about` and `--discover` build the tap here to check
        the rest: a missing token or start date is fine for them, since the schema does not
        depend on them, but a bad value is not; and no config at all is fine too.

        Raises:
            ConfigError: The environment holds a value of the wrong kind, or a stream map
                does not compile.
        """
        given = config is not None and bool(config.config or config.parse_env)
        if not complete and not given:
            return
        if config is not None and config.parse_env:
            schema = copy.deepcopy(cls.config_jsonschema)
            cls.append_builtin_config(schema)  # the SDK's settings can come from there too
            _check_environment(schema)
        if complete:
            return  # a sync or --test builds the tap next, which checks all of this itself
        settings = {**PLACEHOLDERS, **(dict(config.config) if config is not None else {})}
        try:
            cls(
                config=settings,
                parse_env_config=bool(config is not None and config.parse_env),
                validate_config=True,
            )
        except MappingError as exc:
            raise ConfigError("stream_maps", str(exc)) from None
        except ValueError as exc:  # a value the SDK could not read from the environment
            raise ConfigError("config", f"a value could not be read ({exc})") from None

    @classmethod
    @contextmanager
    def _one_line_errors(cls, config: Any) -> Iterator[None]:  # noqa: ANN401 - as above
        token = (config.config if config else {}).get("token") or os.environ.get(TOKEN_ENV)
        try:
            yield
        except ConfigValidationError as exc:
            problems = "; ".join(exc.errors) or str(exc)
            cls._fail(redact(f"invalid config: {problems}", str(token or "")))
        except TapHappyTalkError as exc:
            cls._fail(redact(str(exc), str(token or "")))
        except MappingError as exc:  # an expression that fails on a record, or a stream map
            # for a stream or property the catalog does not select, which the SDK refuses
            hint = " (is that stream selected?)" if "not detected in schema" in str(exc) else ""
            cls._fail(redact(f"invalid setting 'stream_maps': {exc}{hint}", str(token or "")))
        except BrokenPipeError:
            # Nothing more can reach the target; keep Python from trying again at exit.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            cls._fail(
                "the target stopped reading the tap's output (broken pipe); the last STATE "
                "it received is where the next run resumes"
            )

    @classmethod
    def _fail(cls, message: str) -> NoReturn:
        cls.logger.error(message)
        sys.exit(1)


def _check_environment(schema: dict[str, Any]) -> None:
    """Name the environment variable whose value the SDK could not read, as it would read it.

    Raises:
        ConfigError: A whole number, or a JSON object or list, that is not one.
    """
    for name, spec in schema["properties"].items():
        variable = f"TAP_HAPPYTALK_{name.upper()}"
        value = os.environ.get(variable)
        types = spec.get("type", [])
        if value is None:
            continue
        if "integer" in types and not value.strip().lstrip("+-").isdigit():
            raise ConfigError(name, f"{variable}={value!r} is not a whole number")
        if "object" in types or "array" in types:
            try:
                json.loads(value)
            except ValueError:
                raise ConfigError(name, f"{variable} is not valid JSON") from None

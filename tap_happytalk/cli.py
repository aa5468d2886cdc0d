"""The command-line edge: every entry point answers a bad config or a tap error in one line.

The SDK would print a traceback, or its config errors over several lines, in JSON Schema's
words. A sync, `--about`, `--discover` and `--test` each come through here: `--discover` and
`--test` run in click callbacks, before `invoke`, so each callback is wrapped. Settings are
checked in the tap's own words before JSON Schema sees them, and settings the tap does not know
get one WARNING naming the closest it does.
"""

from __future__ import annotations

import copy
import json
import os
import re
import sys
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn

import click
from singer_sdk import Tap
from singer_sdk.exceptions import ConfigValidationError, MappingError
from singer_sdk.tap_base import CliTestOptionValue
from typing_extensions import override

from tap_happytalk.errors import (
    INCOMPLETE_EXIT_CODE,
    ConfigError,
    IncompleteDataError,
    StoppedError,
    TapHappyTalkError,
    redact,
)
from tap_happytalk.settings import ENV_PREFIX, Settings, unknown_settings

if TYPE_CHECKING:
    from collections.abc import Iterator

TOKEN_ENV = "TAP_HAPPYTALK_TOKEN"  # noqa: S105 - the name of a variable, not a token
# Stand-ins for the required settings when --about checks what else is given.
PLACEHOLDERS = {"token": "placeholder", "start_date": "2000-01-01"}
# What the tap does, for `--help`.
HELP = """Extract HappyTalk's service history and, opt-in, its consultations as Singer messages.

\b
Streams: service_history (selected by default); chat_rooms and chat_messages, the
consultation rooms and every message in them (opt-in: select them in the catalog, from
--discover, or with Meltano's `select`).
Settings: tap-happytalk --about. Without --catalog, a run extracts service_history alone;
--select chooses the streams instead (repeat it: --select chat_rooms --select chat_messages)."""
SELECT_HELP = (
    "A stream to extract, instead of the default (service_history alone); repeat for several. "
    "With --discover: the streams the written catalog selects. Not with --catalog."
)
# JSON Schema's wording (as the SDK formats it), in the tap's words.
SCHEMA_WORDING = (
    (r"^(?P<value>.+) is less than the minimum of (?P<bound>\S+)$", "must be at least {bound}"),
    (r"^(?P<value>.+) is greater than the maximum of (?P<bound>\S+)$", "must be at most {bound}"),
    (r"^(?P<value>.+) is not of type (?P<bound>.+)$", "must be of type {bound}"),
    (r"^(?P<value>.+) is not one of (?P<bound>.+)$", "must be one of {bound}"),
    (r"^(?P<value>.+) is too short$", "must not be empty"),
)


class OneLineErrorTap(Tap):
    """The SDK's Tap, whose every command-line entry point fails in one line with exit 1.

    A sync that went through with units set aside exits with `INCOMPLETE_EXIT_CODE` instead.
    """

    # The streams that ended the last sync of this process with units failed, and how many
    # (`note_incomplete`); read once the SDK's `invoke` returns (its `sync_all` is final).
    incomplete: ClassVar[dict[str, int]] = {}
    # The signal that stopped the last sync of this process early (`note_stopped`), if any:
    # a stopped run is not complete, and its exit code must not say it is.
    stopped_by: ClassVar[str | None] = None
    # Every stream the tap has, for `--select`; and the ones `--select` chose in this process
    # (empty: the streams' own defaults). The subclass applies the choice to its streams.
    stream_names: ClassVar[tuple[str, ...]] = ()
    chosen_streams: ClassVar[frozenset[str]] = frozenset()

    @override
    @classmethod
    def get_singer_command(cls) -> click.Command:
        """The SDK's command, whose `--help` says what the tap extracts, with `--select`.

        `--select` is eager, so it is read before `--discover` runs, wherever it stands.
        """
        command = super().get_singer_command()
        command.help = HELP
        command.params.append(
            click.Option(
                ["--select"],
                multiple=True,
                metavar="STREAM",
                is_eager=True,
                expose_value=False,
                callback=cls.cb_select,
                help=SELECT_HELP,
            )
        )
        return command

    @classmethod
    def cb_select(cls, ctx: click.Context, param: click.Option, value: tuple[str, ...]) -> None:  # noqa: ARG003 - click's callback signature
        """Keep the streams `--select` names, or say in one line which name is not a stream."""
        unknown = [name for name in value if name not in cls.stream_names]
        if unknown:
            cls._fail(
                f"invalid option --select: no stream {', '.join(map(repr, unknown))}; the "
                f"streams are {', '.join(cls.stream_names)}"
            )
        cls.chosen_streams = frozenset(value)

    @override
    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """Check the settings in the tap's own words first, then as JSON Schema would.

        Also names, in one WARNING, each setting the tap does not know with the closest one
        it does: a misspelt optional setting would otherwise be ignored without a word.

        Raises:
            ConfigError: A setting is missing or unusable (`raise_errors` only).
        """
        if raise_errors:
            self._warn_unknown_settings()
            Settings.from_config(self.config)
        return super()._validate_config(raise_errors=raise_errors)

    def _warn_unknown_settings(self) -> None:
        schema = copy.deepcopy(self.config_jsonschema)
        self.append_builtin_config(schema)
        unknown = unknown_settings(self.config, schema["properties"])
        if unknown:
            self.logger.warning(
                "Unknown settings, ignored: %s (`tap-happytalk --about` lists every setting)",
                ", ".join(_naming(key, closest) for key, closest in unknown.items()),
            )

    @override
    @classmethod
    def invoke(cls, **kwargs: Any) -> None:
        """Run the tap as the SDK would, with the tap's one-line errors."""
        config = kwargs.get("config")
        if cls.chosen_streams and kwargs.get("catalog") is not None:
            cls._fail(
                "invalid options: --select and --catalog both choose the streams; give one "
                "(select them in the catalog, or leave --catalog out)"
            )
        with cls._one_line_errors(config):
            cls._check_config(config, complete=not kwargs.get("about"))
            cls.incomplete = {}
            cls.stopped_by = None
            super().invoke(**kwargs)
            if cls.stopped_by:
                raise StoppedError(
                    f"{cls.stopped_by} stopped the run before the end of its range: the data is "
                    "complete up to the final STATE written, and the next run resumes there"
                )
            if cls.incomplete:
                counts = ", ".join(f"{stream} {n}" for stream, n in cls.incomplete.items())
                msg = (
                    f"The run is done but the data is incomplete: units failed ({counts}); "
                    "those set aside are kept in the STATE written and asked again by the next "
                    "run, those given up are named above"
                )
                raise IncompleteDataError(msg)

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
                cls._check_config(config, complete=False, discover=True)
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
    def _check_config(cls, config: Any, *, complete: bool, discover: bool = False) -> None:  # noqa: ANN401 - SDK's input
        """Check the config as a sync would: files, environment, settings and stream maps.

        A sync or `--test` (`complete`) builds the tap right after, which checks the settings
        and stream maps; only the environment is checked here, since the SDK would read a bad
        value there with a traceback. `--about` builds the tap here to check the rest: a
        missing token or start date is fine for it, but a bad value is not; no config at all
        is fine too. `--discover` checks only that the config can be read: the catalog does
        not depend on the settings, and Meltano runs `--discover` before every run, repeating
        a failing discovery's whole output in its own error (the sync reports it once).

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
            if not discover:
                _warn_unknown_variables(cls, schema)
        if complete or discover:
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
            problems = "; ".join(_in_our_words(error) for error in exc.errors) or str(exc)
            cls._fail(redact(problems, str(token or "")))
        except IncompleteDataError as exc:
            cls.logger.warning(redact(str(exc), str(token or "")))
            sys.exit(INCOMPLETE_EXIT_CODE)
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


def _naming(key: str, closest: str | None) -> str:
    return f"'{key}'" + (f" (did you mean '{closest}'?)" if closest else "")


def _in_our_words(error: str) -> str:
    """One of the SDK's JSON Schema errors (`0 is less than ... in config['x']`), reworded."""
    found = re.fullmatch(r"(?P<problem>.+) in config\[(?P<path>.+)\]", error)
    if found is None:
        return f"invalid config: {error}"
    name = ".".join(part.strip("'\"") for part in found["path"].split("]["))
    problem = found["problem"]
    required = re.fullmatch(r"'(?P<key>[^']+)' is a required property", problem)
    if required:
        return f"invalid setting '{name}.{required['key']}': is required"
    for pattern, wording in SCHEMA_WORDING:
        matched = re.fullmatch(pattern, problem)
        if matched:
            return (
                f"invalid setting '{name}': {wording.format(**matched.groupdict())}, got "
                + (matched["value"])
            )
    return f"invalid setting '{name}': {problem}"


def _warn_unknown_variables(tap: type[Tap], schema: dict[str, Any]) -> None:
    """One WARNING for `TAP_HAPPYTALK_*` variables that set no setting, with the closest."""
    variables = {ENV_PREFIX + name.upper(): name for name in schema["properties"]}
    given = {name: "" for name in os.environ if name.startswith(ENV_PREFIX)}
    unknown = unknown_settings(given, variables)
    if unknown:
        tap.logger.warning(
            "Unknown environment variables, ignored: %s",
            ", ".join(_naming(key, closest) for key, closest in unknown.items()),
        )


def _check_environment(schema: dict[str, Any]) -> None:
    """Name the environment variable whose value the SDK could not read, as it would read it.

    Raises:
        ConfigError: A whole number, or a JSON object or list, that is not one; or a variable
            set to nothing, which the SDK would read as an empty value rather than none.
    """
    for name, spec in schema["properties"].items():
        variable = f"{ENV_PREFIX}{name.upper()}"
        value = os.environ.get(variable)
        types = spec.get("type", [])
        if value is None:
            continue
        if not value.strip():
            raise ConfigError(
                name,
                f"{variable} is set but empty; unset it (`unset {variable}`) to use the "
                "default, or give it a value",
            )
        if "integer" in types and not value.strip().lstrip("+-").isdigit():
            raise ConfigError(name, f"{variable}={value!r} is not a whole number")
        if "object" in types or "array" in types:
            try:
                json.loads(value)
            except ValueError:
                raise ConfigError(name, f"{variable} is not valid JSON") from None

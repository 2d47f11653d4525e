"""``daloy-edge check [TARGET]``: the refuse-to-boot audit, before you deploy.

Audits the ``DALOY_*`` environment variables (CONTRACT.md) and, given ``module:attr``,
the app it names (an ``App``, an object with an ``.app``, or a factory returning one).
Exit status: 0 clean (warnings allowed unless ``--strict``), 1 findings (an app that
raises while it is imported or built is one), 2 usage errors (an unreadable env file, a
target that does not exist or is not an App).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from daloy_edge._errors import ConfigError

if TYPE_CHECKING:
    from daloy_edge import App
    from daloy_edge.audit import Finding

EXIT_FINDINGS = 1
EXIT_USAGE = 2


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``check`` command."""
    parser = sub.add_parser(
        "check", help="audit the configuration for insecure settings (refuse-to-boot rules)"
    )
    parser.add_argument(
        "target", nargs="?", default=None, help="module:attribute of an App to audit as well"
    )
    parser.add_argument(
        "--env-file",
        type=Path,
        default=None,
        help="KEY=VALUE file loaded first (overrides the process environment)",
    )
    parser.add_argument("--strict", action="store_true", help="fail on warnings too")
    parser.set_defaults(run=run)


def read_env_file(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines (``export`` prefix, quotes and ``#`` comment lines allowed).

    ``ValueError`` for a line each loader reads its own way: a comment after a value, text
    after a closing quote, a ``$`` outside single quotes, ``${`` or a backslash in quotes.
    """
    values: dict[str, str] = {}
    # utf-8-sig: an editor's byte order mark is not part of the first variable's name.
    for number, raw in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.removeprefix("export ").partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name.isidentifier():
            raise ValueError(f"{path}:{number}: expected KEY=VALUE")
        quote = value[:1]
        quoted = quote in ("'", '"')
        if quoted:
            # Compose and python-dotenv end a quoted value at its second quote: taken
            # from the quotes at either end, '"admin"  # was "admin"' was judged as a
            # 27-character password where "admin" went out.
            end = value.find(quote, 1)
            if end < 0 or (end != len(value) - 1 and value[end + 1 :].lstrip()[:1] != "#"):
                raise ValueError(
                    f"{path}:{number}: a quoted value must end at its closing quote,"
                    " with no quote inside it"
                )
            comment = end != len(value) - 1
            value = value[1:end]
        else:
            # Any whitespace, as python-dotenv's "\s+#" finds it: "admin", a no-break
            # space (a Mac's Option-Space) and "# default" deployed as "admin" there.
            comment = any(value[i - 1].isspace() for i in range(1, len(value)) if value[i] == "#")
        if comment:
            # Compose and python-dotenv end the value there, Docker's --env-file and
            # systemd keep the comment in it: the audit would judge another value than
            # the one deployed ("admin  # default" passed as a long password).
            raise ValueError(
                f"{path}:{number}: a comment after a value is read differently by each"
                " loader; put it on a line of its own"
            )
        if "${" in value or ("$" in value and quote != "'") or ("\\" in value and quoted):
            # Compose and python-dotenv expand "${NAME}" (Compose "$NAME" too, unquoted or
            # in double quotes) and escapes inside quotes, Docker's --env-file keeps them:
            # "${ADMIN_PASSWORD}" passed as a long password where the variable went out.
            raise ValueError(
                f"{path}:{number}: a $ (outside single quotes), a ${{ or a backslash inside"
                " quotes is expanded by some loaders and kept by others"
            )
        values[name] = value
    return values


class TargetError(Exception):
    """The target names no module or attribute, or not an App: the check cannot run."""


def _import(module_name: str) -> object:
    if not all(part.isidentifier() for part in module_name.split(".")):
        raise TargetError(f"{module_name!r} is not a module name (expected module:attribute)")
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        # Only the target itself missing is a usage error; a module it imports is the app's.
        if exc.name and (module_name + ".").startswith(exc.name + "."):
            raise TargetError(f"no module named {module_name!r}") from None
        raise


def load_app(target: str) -> App:
    """Import ``module:attribute`` (attribute defaults to ``app``) and return an App.

    :class:`TargetError` when either does not exist or names no App; what the app's own
    code raises while it is imported or built propagates.
    """
    from daloy_edge import App

    module_name, _, attr = target.partition(":")
    module = _import(module_name)
    try:
        obj = getattr(module, attr or "app")
    except AttributeError:
        raise TargetError(f"module {module_name} has no {attr or 'app'!r}") from None
    if not isinstance(obj, App):
        obj = getattr(obj, "app", obj)
    if not isinstance(obj, App) and callable(obj):
        if not _takes_no_arguments(obj):
            # A runtime entry point (handler.lambda_handler, main.gcf_handler) is no
            # factory: calling it bare is not the check's to do, nor the app's failure.
            raise TargetError(
                f"{target} takes arguments, so it is no factory of an App: "
                f"name the App itself (e.g. {module_name}:app)"
            )
        obj = obj()
    if not isinstance(obj, App):
        raise TargetError(f"{target} is not a daloy_edge App (nor a factory of one)")
    return obj


def _takes_no_arguments(factory: object) -> bool:
    import inspect

    try:
        inspect.signature(factory).bind()  # type: ignore[arg-type]
    except TypeError:
        return False
    except ValueError:  # no signature to read (a built-in): the call itself decides
        return True
    return True


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames or frames[-1].filename.startswith("<"):
        return ""
    path = Path(frames[-1].filename)
    if path.is_relative_to(Path.cwd()):
        path = path.relative_to(Path.cwd())
    return f" ({path}:{frames[-1].lineno})"


def _refused(target: str, exc: Exception) -> Finding:
    from daloy_edge.audit import Finding
    from daloy_edge.observability._record import exception_text
    from daloy_edge.observability._redact import Redactor

    # The app's own words, scrubbed as its log line and its development 500 scrub them:
    # the report goes to CI logs, and "cannot reach postgres://app:<password>@db" or a
    # bearer token in the message was printed there as it was.
    text = Redactor().scrub(exception_text(exc))
    if isinstance(exc, ConfigError):
        problem = f"the app refuses to build: {text}"
        fix = "correct the setting the message names and run the check again"
    else:
        problem = f"the app fails to build: {type(exc).__name__}: {text}{_where(exc)}"
        fix = "correct what the message names (start the app to see the traceback)"
    return Finding("app-refused", "error", target, problem, fix)


def audit(target: str | None, environ: Mapping[str, str]) -> list[Finding]:
    """The environment's findings, then (with ``target``) the app's, without repeats."""
    from daloy_edge.audit import InsecureConfiguration, audit_app, audit_environment

    findings = audit_environment(environ)
    if target is not None:
        try:
            app = load_app(target)
        except TargetError:
            raise
        except InsecureConfiguration as exc:
            findings += exc.findings
        except Exception as exc:  # the app's own code: a finding, not a crash of the check
            findings.append(_refused(target, exc))
        else:
            if not _runs_sessions(app):
                # The variable speaks of the sessions a random key would sign; an app that
                # keeps none (what `daloy-edge new` writes) failed --strict on it.
                findings = [f for f in findings if f.code != "session-keys-missing"]
            findings += audit_app(app)
    return list(dict.fromkeys(findings))


def _runs_sessions(app: App) -> bool:
    chains = [app._middleware, *(chain for _, _, chain in app.route_middleware())]
    return any(getattr(mw, "sets_session", False) for chain in chains for mw in chain)


def _report(findings: list[Finding], *, strict: bool) -> int:
    for f in findings:
        print(f"{f.severity.upper():7} [{f.code}] {f.message}")
    errors = sum(f.severity == "error" for f in findings)
    warnings = len(findings) - errors
    if not findings:
        print("daloy-edge check: no findings")
    else:
        print(f"daloy-edge check: {errors} error(s), {warnings} warning(s)")
    return EXIT_FINDINGS if errors or (strict and warnings) else 0


def run(args: argparse.Namespace) -> int:
    """Audit, print every finding with its fix, and return the exit status."""
    try:
        if args.env_file is not None:
            os.environ.update(read_env_file(args.env_file))
        sys.path.insert(0, os.getcwd())
        findings = audit(args.target, os.environ)
    except (OSError, ValueError, TargetError) as exc:
        print(f"daloy-edge check: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return _report(findings, strict=args.strict)

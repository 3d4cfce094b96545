"""What tox's configuration tells about an env that a snapshot cannot show: the config file
and the env's section header (where a fix goes), ``pass_env``/``set_env`` and how the
package was installed."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tox_broker_audit.diagnosis.model import ToxFacts
from tox_broker_audit.probe._tba_redact import redact_value

if TYPE_CHECKING:
    from tox.tox_env.api import ToxEnv

__all__ = ["find_env_section", "tox_facts"]


def tox_facts(tox_env: ToxEnv, config_file: Path | None, package_kinds: Sequence[str]) -> ToxFacts:
    """What tox knows about the env that a snapshot cannot show: where a fix goes, the env's
    ``pass_env``/``set_env`` (values redacted), and how the package was really installed."""
    conf = tox_env.conf
    section, line = find_env_section(config_file, conf.name)
    set_env: dict[str, str] = {}
    raw_set_env = _conf_get(conf, "set_env")
    if raw_set_env is not None:
        for key in raw_set_env:
            set_env[key] = redact_value(key, str(raw_set_env.load(key)))[0]
    return ToxFacts(
        ini_path=str(config_file) if config_file else None,
        ini_section=section,
        section_line=line,
        pass_env=tuple(_conf_get(conf, "pass_env") or ()),
        set_env=set_env,
        package=_package_mode(_conf_get(conf, "package"), package_kinds),
        dependency_lines=_dependency_lines(tox_env, config_file),
    )


def _dependency_lines(tox_env: ToxEnv, config_file: Path | None) -> dict[str, Any]:
    from tox_broker_audit._tox.deps import dependency_lines

    try:
        root = Path(tox_env.core["tox_root"])
    except Exception:  # noqa: BLE001 - never let the audit break the run
        root = config_file.parent if config_file else Path.cwd()
    return dict(dependency_lines(config_file, root, tox_env.conf.name))


def _conf_get(conf: Any, key: str) -> Any:
    try:
        return conf[key] if key in conf else None  # noqa: SIM401 - ConfigSet has no .get()
    except Exception:  # noqa: BLE001 - never let the audit break the run
        return None


_PACKAGE_MODES = {
    "wheel": "wheel",
    "sdist": "sdist",
    "sdist-wheel": "wheel",
    "editable": "editable",
    "editable-legacy": "editable",
    "skip": "skip",
    "external": "wheel",
    "uv": "wheel",  # tox-uv
    "uv-editable": "editable",  # tox-uv
}


def _package_mode(configured: str | None, installed_kinds: Sequence[str]) -> str | None:
    if configured is None:
        return None
    if installed_kinds:  # what was really installed wins over the setting
        kind = installed_kinds[-1]
        if kind.startswith("Editable"):
            return "editable"
        if kind.startswith("Wheel"):
            return "wheel"
        if kind.startswith("Sdist"):
            return "sdist"
    return _PACKAGE_MODES.get(str(configured), str(configured))


_INI_ENV = re.compile(r"^\s*\[(?:tox:)?(testenv(?::(?P<name>[^\]]+))?)\]\s*$")
_TOML_ENV = re.compile(
    r"^\s*\[(?P<prefix>tool\.tox\.)?(?P<section>env_run_base|env\.(?P<name>\"[^\"]+\"|[\w.-]+))\]\s*$"
)


def find_env_section(config_file: Path | None, env_name: str) -> tuple[str | None, int | None]:
    """The section where a key of ``env_name`` belongs (its own section if any, else the base one)
    and its 1-based header line: ``("testenv:py312", 7)``, ``("env_run_base", 3)``."""
    if config_file is None:
        return None, None
    try:
        text = config_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None, None
    toml = config_file.suffix == ".toml" and "legacy_tox_ini" not in text
    own: tuple[str, int] | None = None
    base: tuple[str, int] | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if toml:
            match = _TOML_ENV.match(line)
            if match is None:
                continue
            name = (match.group("name") or "").strip('"')
            section = (match.group("prefix") or "") + match.group("section")
        else:
            match = _INI_ENV.match(line)
            if match is None:
                continue
            name = match.group("name") or ""
            section = match.group(1)
        if not name:
            base = base or (section, number)
        elif env_name in _env_names(name):
            own = own or (section, number)
    chosen = own or base
    return (chosen[0], chosen[1]) if chosen else (None, None)


def _env_names(header: str) -> set[str]:
    """The envs a section header names, expanded the way tox expands them (``py311,py312``,
    ``py3{11,12}-django{4,5}``, ``py3{10-12}``)."""
    from tox.config.loader.ini.factor import extend_factors

    try:
        return {name.strip() for name in extend_factors(header) if name.strip()}
    except Exception:  # noqa: BLE001 - a header tox itself would not parse names no env
        return set()

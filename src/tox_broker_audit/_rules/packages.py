"""BA201–BA204: installed distributions that differ, ranked by whether their modules were imported."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from tox_broker_audit._diagnose import DiagnosisContext
from tox_broker_audit._findings import Finding, Group, Severity
from tox_broker_audit._hooks import hookimpl
from tox_broker_audit._snapshot import Distribution

from ._common import Facts, facts, finding, side_label, tox_fix

__all__ = ["broker_audit_rules", "packages_rule"]

#: Seeded by virtualenv/venv/tox, or the installers themselves: expected to differ.
SEED_DISTS = frozenset({"pip", "setuptools", "wheel", "distribute", "uv", "virtualenv"})
#: Distributions that change which broker dramatiq builds by default, or how tests run.
KEY_DISTS = frozenset({"dramatiq", "pika", "redis", "pytest", "pluggy"})


def _plugin_dists(ctx: DiagnosisContext) -> set[str]:
    out: set[str] = set()
    for snap in (ctx.baseline, ctx.target):
        if snap is not None:
            out.update(
                p.distribution for p in snap.pytest.plugins if p.distribution and p.how == "entry-point"
            )
    return out


def _imported(f: Facts, name: str, side: str) -> bool:
    return any(s.side == side and name in s.imported_dists for s in f.sides())


def _module_tokens(dist: Distribution) -> list[str]:
    return [f"module:{t}" for t in dist.top_level]


def _classify(
    f: Facts, name: str, imported: bool, plugin_dist: bool, project: bool
) -> tuple[Severity, Group, float]:
    if name in SEED_DISTS:
        return "info", "expected", 0.0
    if plugin_dist:
        return "info", "other", 20.0  # reported (and fixed) as BA401
    if project:
        return "info", "other", 30.0
    if imported and name in KEY_DISTS:
        return "warning", "cause", 60.0
    if imported:
        return "warning", "cause", 40.0
    return "info", "other", 0.0


def packages_rule(ctx: DiagnosisContext) -> Iterator[Finding]:
    assert ctx.diff is not None
    f = facts(ctx)
    plugin_dists = _plugin_dists(ctx)
    base, tgt = side_label(ctx, "baseline"), side_label(ctx, "target")
    for change in ctx.diff.distributions:
        dist = change.baseline or change.target
        assert dist is not None
        name = change.name
        project = any(t in f.app_tops for t in dist.top_level)
        plugin_dist = name in plugin_dists
        tokens = [f"dist:{name}"]
        if change.kind == "missing":
            imported = _imported(f, name, "baseline")
            sev, group, score = _classify(f, name, imported, plugin_dist, project)
            fix, loc = tox_fix(ctx, f"add {dist.raw_name} to deps")
            yield finding(
                "BA201",
                sev,
                f"{dist.raw_name} {dist.version} is installed {base} but not {tgt}",
                name,
                f"{dist.raw_name} {dist.version} is installed {base} and missing {tgt}; "
                + (
                    "its modules were imported during the local run."
                    if imported
                    else "nothing imported it locally."
                )
                + (" It provides a pytest plugin (see BA401)." if plugin_dist else ""),
                fix if name not in SEED_DISTS else "nothing to do: seeded by the venv tool",
                location=loc,
                about=tokens,
                effects_on=[*tokens, *_module_tokens(dist)] if imported else tokens,
                group=group,
                score=score,
                imported=imported,
                version=dist.version,
            )
        elif change.kind == "extra":
            imported = _imported(f, name, "target")
            sev, group, score = _classify(f, name, imported, plugin_dist, project)
            if name == "pika" and group == "other":
                sev, group, score = "warning", "cause", 50.0  # pika makes RabbitMQ dramatiq's default
            yield finding(
                "BA202",
                sev,
                f"{dist.raw_name} {dist.version} is installed only {tgt}",
                name,
                f"{dist.raw_name} {dist.version} is installed {tgt} but not {base}; "
                + ("its modules were imported there." if imported else "nothing imported it.")
                + (
                    " With pika installed, dramatiq's implicit default broker is RabbitMQ."
                    if name == "pika"
                    else ""
                ),
                "nothing to do: seeded by the venv tool"
                if name in SEED_DISTS
                else f"find which of tox's deps pulls in {dist.raw_name} (e.g. `pip show` / `uv pip tree`) "
                "and align the dependencies",
                about=tokens,
                effects_on=[*tokens, *_module_tokens(dist)] if imported or name == "pika" else tokens,
                group=group,
                score=score,
                imported=imported,
                version=dist.version,
            )
        elif change.kind == "version":
            assert change.baseline is not None
            assert change.target is not None
            imported = _imported(f, name, "target") or _imported(f, name, "baseline")
            sev, group, score = _classify(f, name, imported, False, project)
            if sev == "warning" and name not in KEY_DISTS:
                sev, score = "info", score - 10
            yield finding(
                "BA203",
                sev,
                f"{dist.raw_name} {change.baseline.version} {base} vs {change.target.version} {tgt}",
                name,
                f"{dist.raw_name} is {change.baseline.version} {base} and {change.target.version} {tgt}"
                + ("; its modules were imported." if imported else "; nothing imported it."),
                "nothing to do: seeded by the venv tool"
                if name in SEED_DISTS
                else tox_fix(
                    ctx, f"pin {dist.raw_name}=={change.baseline.version} in deps (or upgrade locally)"
                )[0],
                about=tokens,
                effects_on=tokens,
                group=group,
                score=score,
                baseline=change.baseline.version,
                target=change.target.version,
            )
        else:  # install-mode
            assert change.baseline is not None
            assert change.target is not None
            b, t = change.baseline, change.target

            def mode(d: Distribution) -> str:
                return f"editable from {d.source_path}" if d.editable else f"installed in {d.location}"

            sev2: Severity = "info"
            package = ctx.tox.package if ctx.tox is not None else None
            yield finding(
                "BA204",
                sev2,
                f"{dist.raw_name} is {'editable' if b.editable else 'a regular install'} {base} but "
                f"{'editable' if t.editable else 'a regular install'} {tgt}",
                name,
                f"{dist.raw_name}: {mode(b)} {base}; {mode(t)} {tgt}. Its modules resolve to "
                f"different files, "
                "which matters when a module is imported under two names or patched by file.",
                tox_fix(ctx, "package = editable   (to match a local `pip install -e .`)")[0]
                if project and b.editable and not t.editable
                else "install it the same way on both sides",
                about=tokens,
                effects_on=[*tokens, *_module_tokens(dist)],
                group="other",
                score=30.0 if project else 10.0,
                tox_package=package,
            )


@hookimpl
def broker_audit_rules() -> list[Callable[[DiagnosisContext], Iterable[Finding]]]:
    return [packages_rule]

"""Wrap every orders actor with timing (imported at interpreter start-up by orders_tracing.pth)."""

try:
    from orders import tasks
except ImportError:  # orders not installed in this interpreter
    tasks = None

INSTRUMENTED = [] if tasks is None else [tasks.ship.actor_name]

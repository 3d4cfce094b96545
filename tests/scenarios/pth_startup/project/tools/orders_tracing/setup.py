"""orders-tracing: instruments the orders actors in every process, via a start-up .pth file."""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithPth(build_py):
    def run(self):
        super().run()
        self.copy_file("orders_tracing.pth", str(Path(self.build_lib) / "orders_tracing.pth"))


setup(
    name="orders-tracing",
    version="0.2.0",
    py_modules=["orders_tracing"],
    cmdclass={"build_py": BuildWithPth},
)

"""Settings loaded on first attribute access, like django.conf.settings."""

import importlib
from types import ModuleType
from typing import Any, Optional


class LazySettings:
    _wrapped: Optional[ModuleType] = None

    def __getattr__(self, name: str) -> Any:
        if self._wrapped is None:
            self._wrapped = importlib.import_module("shop.settings")
        return getattr(self._wrapped, name)


settings = LazySettings()

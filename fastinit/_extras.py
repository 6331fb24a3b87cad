"""The optional adapters' import guard.

fastinit.torch, fastinit.jax and fastinit.keras import their framework through `require`, which
turns its absence into a one-line hint naming the extra to install.  ``import fastinit`` itself
imports none of them.
"""

import importlib
from types import ModuleType

#: The distribution to install the extras from (the package may be renamed on PyPI).
DISTRIBUTION_NAME = "fastinit-keras"


def install_hint(adapter: str, framework: str, extra: str) -> str:
    """'fastinit.torch needs PyTorch: pip install "fastinit-keras[torch]"'."""
    return f'fastinit.{adapter} needs {framework}: pip install "{DISTRIBUTION_NAME}[{extra}]"'


def require(module: str, hint: str) -> ModuleType:
    """Import `module`, or raise ImportError(hint): the hint alone when the module is not
    installed (or blocked with ``sys.modules[module] = None``), with the cause when importing
    it failed for another reason."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        if getattr(e, "name", None) == module:
            raise ImportError(hint) from None
        raise ImportError(f"{hint} (importing {module} failed: {e})") from e

"""obliviate: knowledge unlearning for large language models.

Importing the package imports every component that owns a config section or a config check
(:mod:`obliviate.config`), so :func:`obliviate.config.load_config` sees the whole schema.
"""

from . import benchmarks, checks, formatting, methods, tracking, training  # noqa: F401
from .attacks import settings as _attack_settings  # noqa: F401
from .eval import settings as _eval_settings  # noqa: F401
from .generate import settings as _generate_settings  # noqa: F401
from .models import loading as _model_loading  # noqa: F401
from .models import scope as _model_scope  # noqa: F401

__version__ = "0.1.0"

"""Training utilities: config, distributed init, checkpoints, optimizer groups, schedules, logging."""
from .config import Config, ConfigError, load_config, save_config

__all__ = ["Config", "ConfigError", "load_config", "save_config"]

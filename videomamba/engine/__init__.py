"""Training and evaluation engine (train one epoch, validation, multi-view test + merge, orchestration)."""
from .evaluate import final_test, merge_views, validate
from .runner import Runner, run_test, run_train
from .train_one_epoch import NonFiniteLossError, train_one_epoch

__all__ = ["NonFiniteLossError", "Runner", "final_test", "merge_views", "run_test", "run_train", "train_one_epoch",
           "validate"]

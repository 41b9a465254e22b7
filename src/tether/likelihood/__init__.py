"""The likelihood stage: each model's chance of solving the other's tasks, from the samples already drawn."""

from tether.likelihood.forks import Fork, fork_tokens
from tether.likelihood.run import LikelihoodResult, TaskLikelihood, cross_likelihood, load_likelihood, save_likelihood

__all__ = ["Fork", "LikelihoodResult", "TaskLikelihood", "cross_likelihood", "fork_tokens", "load_likelihood",
           "save_likelihood"]

"""Scale: the one Ray worker pool, made here and handed down to sampling and grading by the caller."""

from tether.scale.ray_pool import ActorPool, RayExecutor, RayOptions

__all__ = ["ActorPool", "RayExecutor", "RayOptions"]

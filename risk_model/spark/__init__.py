"""Apache Spark engine: features, the merchant-risk table and scoring past one machine.

Imported only when a command runs with ``--engine spark`` (``pip install -e ".[spark]"``);
nothing else in :mod:`risk_model` imports :mod:`pyspark`.

* :mod:`risk_model.spark.session`: a session bound to the loopback interface in local mode.
* :mod:`risk_model.spark.shipping`: the verified model artefact sent once to the executors
  (``SparkFiles``) and verified again there before any account is scored.
* :mod:`risk_model.spark.features`: training and scoring features on the executors, the
  population merchant statistics as a Spark aggregation (map: partial sums per partition;
  reduce: sums by key), equal to one machine's, bit for bit.

Scoring a DataFrame of account histories with the one-machine :class:`~risk_model.predict.
Predictor` on each task is :func:`pipelines._score_spark.score_dataframe`.
"""

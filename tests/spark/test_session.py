import warnings

import pytest

from risk_model.spark import session as S


def test_the_local_session_stays_on_the_loopback_with_utc_and_no_ui(spark):
    conf = spark.sparkContext.getConf()
    assert conf.get("spark.driver.host") == S.LOOPBACK
    assert conf.get("spark.driver.bindAddress") == S.LOOPBACK
    assert conf.get("spark.ui.enabled") == "false"
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"


def test_a_second_call_reuses_the_running_session_and_sets_its_batch_size(spark):
    before = spark.conf.get(S.BATCH_ROWS_CONF)
    try:
        again = S.get_session(spark.sparkContext.master, batch_rows=123)
        assert again is spark
        assert spark.conf.get(S.BATCH_ROWS_CONF) == "123"
    finally:
        spark.conf.set(S.BATCH_ROWS_CONF, before)


def test_spark_submit_is_recognised_by_its_gateway(monkeypatch):
    monkeypatch.delenv("PYSPARK_GATEWAY_PORT", raising=False)
    assert not S.under_spark_submit()
    monkeypatch.setenv("PYSPARK_GATEWAY_PORT", "40000")
    assert S.under_spark_submit()


def test_only_pysparks_pandas_warning_is_quieted():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        S.quiet_pandas_warning()
        warnings.warn(
            "PySpark does not yet fully support pandas >= 3.0", FutureWarning, stacklevel=1
        )
        with pytest.raises(FutureWarning):
            warnings.warn("another future change", FutureWarning, stacklevel=1)

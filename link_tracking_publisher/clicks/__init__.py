"""Click statistics: click events read back from where the runtime delivered them, counted
once each into rollups, and announced (the ``link_clicked`` signal, signed webhooks).

- :mod:`.sources`: NDJSON files, folders and S3 objects (NDJSON or Firehose's Parquet).
- :mod:`.ingest`: validation, dedupe by ``event_id``, rollups, checkpoints.
- :mod:`.stats`: the statistics the API and the admin show, read from the rollups.
- :mod:`.queries`: the same statistics as SQL over the raw events (Athena, DuckDB).
- :mod:`.webhooks`: the signed notification outbox and its delivery.
- :mod:`.queue`: S3 event notifications on SQS, consumed on the beat schedule.
"""

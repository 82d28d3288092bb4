-- manifest_latest: each ingested path with its size and time at its latest ingest.
--
-- Purpose   `orusage run` skips an inbox file without reading it when its path and size match
--           its latest ingest and it was not modified since (pipeline/ops/runner.py).
-- Grain     one row per path in the manifest.
-- Inputs    manifest (sql/views/manifest.sql).
-- Output    path         VARCHAR  the input file
--           size         BIGINT   its size at its latest ingest, bytes
--           ingested_at  DOUBLE   when that ingest started, seconds since the Unix epoch
-- Params    none.
select path, arg_max(size, ingested_at) as size, epoch(max(ingested_at)) as ingested_at
from manifest
group by path

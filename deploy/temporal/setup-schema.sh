#!/bin/sh
# One-shot job (temporalio/admin-tools) that creates and migrates Temporal's two
# databases before the server starts; it replaces the deprecated auto-setup image.
#
# Safe to run on every `docker compose up` and after an image upgrade:
# `create` ignores an existing database, `setup-schema -v 0.0` leaves a newer
# recorded version alone, and `update-schema` applies only missing versions.
# Connection settings come from SQL_HOST, SQL_PORT, SQL_USER, SQL_PASSWORD and
# SQL_PLUGIN, which temporal-sql-tool reads from the environment.
set -eu

SCHEMA_ROOT=/etc/temporal/schema/postgresql/v12

migrate() {
  db="$1"
  schema_dir="$2"
  echo "temporal schema: ${db}"
  temporal-sql-tool --db "$db" create
  temporal-sql-tool --db "$db" setup-schema -v 0.0
  temporal-sql-tool --db "$db" update-schema -d "$schema_dir"
}

migrate "${TEMPORAL_DBNAME:-temporal}" "${SCHEMA_ROOT}/temporal/versioned"
migrate "${TEMPORAL_VISIBILITY_DBNAME:-temporal_visibility}" "${SCHEMA_ROOT}/visibility/versioned"

echo "temporal schema: done"

#!/bin/sh
# Runs once, when the postgres container initialises an empty data volume
# (docker-entrypoint-initdb.d). Changing TEMPORAL_DB_PASSWORD later does not
# alter the role; use ALTER ROLE or start from a fresh volume.
#
# Temporal gets its own login role so the Temporal server never holds the
# credentials of Drover's database owner. CREATEDB lets temporal-sql-tool create
# the `temporal` and `temporal_visibility` databases itself, owned by this role.
set -e

: "${TEMPORAL_DB_USER:?TEMPORAL_DB_USER must be set}"
: "${TEMPORAL_DB_PASSWORD:?TEMPORAL_DB_PASSWORD must be set}"

# psql variables (:"name" / :'value') quote the identifier and the literal, so
# neither value can break out of the statement.
psql -v ON_ERROR_STOP=1 \
  --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  --set=temporal_user="$TEMPORAL_DB_USER" \
  --set=temporal_password="$TEMPORAL_DB_PASSWORD" <<'SQL'
CREATE ROLE :"temporal_user" WITH LOGIN CREATEDB PASSWORD :'temporal_password';
SQL

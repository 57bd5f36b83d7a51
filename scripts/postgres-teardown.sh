#!/usr/bin/env bash
# Runs on `pulumi destroy`, after Synapse has stopped. By default the database stays (it is the
# homeserver's history). With DELETE_DATA=true (the stack's explicit destroyDeletesData) the
# database and its role are dropped. PostgreSQL itself stays installed.
# Parameters: PG_CLUSTER, DB_NAME, DB_USER, DELETE_DATA (true|false).
: "${PG_CLUSTER:?}" "${DB_NAME:?}" "${DB_USER:?}" "${DELETE_DATA:?}"
if [ "$DELETE_DATA" != true ]; then
  log "kept the database $DB_NAME (destroyDeletesData is off)"
  printf 'kept database %s\n' "$DB_NAME"
  exit 0
fi
if ! command -v psql >/dev/null || ! systemctl is-active --quiet postgresql; then
  die "PostgreSQL is not running, so the database $DB_NAME could not be dropped"
fi
use_cluster "$PG_CLUSTER"
runuser -u postgres -- psql -X -v ON_ERROR_STOP=1 -qAt -v db="$DB_NAME" -v user="$DB_USER" <<'SQL'
DROP DATABASE IF EXISTS :"db" WITH (FORCE);
DROP ROLE IF EXISTS :"user";
SQL
log "dropped the database $DB_NAME and the role $DB_USER (destroyDeletesData is on)"
printf 'dropped database %s\n' "$DB_NAME"

#!/usr/bin/env bash
# Creates (or keeps) the Synapse role and database in the cluster PG_CLUSTER: UTF8, collation and
# ctype C, from template0. Re-running keeps all data. A database with another collation stops the
# deployment. Parameters: PG_CLUSTER, DB_NAME, DB_USER; the role's password comes on stdin.
: "${PG_CLUSTER:?}" "${DB_NAME:?}" "${DB_USER:?}"
IFS= read -r password || [ -n "${password:-}" ] || die "no password on stdin"
use_cluster "$PG_CLUSTER"
pg_ensure_role_and_database "$DB_NAME" "$DB_USER" "$password"

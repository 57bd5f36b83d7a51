#!/usr/bin/env bash
# Creates (or keeps) the Synapse role and database: UTF8, collation and ctype C, from
# template0. Re-running keeps all data. A database with another collation stops the deployment.
# Parameters: DB_NAME, DB_USER; the role's password comes on stdin.
: "${DB_NAME:?}" "${DB_USER:?}"
IFS= read -r password || [ -n "${password:-}" ] || die "no password on stdin"
[[ "$password" =~ ^[A-Za-z0-9]+$ ]] || die "the database password must be alphanumeric"

psql_admin() { runuser -u postgres -- psql -X -v ON_ERROR_STOP=1 -qAt "$@"; }

# The password travels in psql's stdin, never in a command line.
psql_admin -v user="$DB_USER" <<SQL
SELECT format('CREATE ROLE %I LOGIN', :'user') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'user') \gexec
ALTER ROLE :"user" WITH LOGIN PASSWORD '$password';
SQL

existing=$(psql_admin -v db="$DB_NAME" <<'SQL'
SELECT pg_encoding_to_char(encoding) || ' ' || datcollate || ' ' || datctype FROM pg_database WHERE datname = :'db';
SQL
)
if [ -z "$existing" ]; then
  psql_admin -v db="$DB_NAME" -v user="$DB_USER" <<'SQL'
CREATE DATABASE :"db" ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0 OWNER :"user";
SQL
  log "created database $DB_NAME (UTF8, C)"
  printf 'created\n'
elif [ "$existing" = "UTF8 C C" ]; then
  psql_admin -v db="$DB_NAME" -v user="$DB_USER" <<'SQL'
ALTER DATABASE :"db" OWNER TO :"user";
SQL
  printf 'exists\n'
else
  die "database '$DB_NAME' exists with encoding/collation/ctype '$existing', but Synapse needs 'UTF8 C C'
(another collation corrupts its indexes when the C library changes). Nothing was dropped.
To fix it: stop Synapse, pg_dump -Fc $DB_NAME > $DB_NAME.dump, rename the old database
(ALTER DATABASE $DB_NAME RENAME TO ${DB_NAME}_old), run this deployment again to create a new one,
restore with pg_restore --no-owner --role=$DB_USER -d $DB_NAME $DB_NAME.dump, then drop ${DB_NAME}_old."
fi

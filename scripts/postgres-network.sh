#!/usr/bin/env bash
# On a database box, once its firewall is in place (firewall.sh): pg_hba admits the Synapse
# hosts to the Synapse database with scram-sha-256, and PostgreSQL listens on loopback and the
# private address only. Each part changes only when it differs;
# pg_hba is checked before PostgreSQL reloads it, and PostgreSQL restarts only for a setting
# that needs it (the listen address), getting its old settings back if it refuses the new ones.
# Parameters: PG_CLUSTER, STAGED (a directory holding hba.conf and listen.conf), DROPIN (conf.d
# file name); CONFIG_SHA256 only makes the step run again for new files.
: "${PG_CLUSTER:?}" "${STAGED:?}" "${DROPIN:?}"
psql_admin() { runuser -u postgres -- psql -X -qAt "$@"; }
use_cluster "$PG_CLUSTER"
version=$PG_MAJOR cluster=$PG_NAME
reload() { pg_ctlcluster "$version" "$cluster" reload; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# 1. pg_hba: the managed block (first and last line of hba.conf mark it) replaces the old one.
hba=$(psql_admin -c 'SHOW hba_file')
begin=$(head -n 1 "$STAGED/hba.conf")
end=$(tail -n 1 "$STAGED/hba.conf")
awk -v b="$begin" -v e="$end" '$0 == b { skip = 1 } !skip { print } $0 == e { skip = 0 }' "$hba" >"$work/hba"
cat "$STAGED/hba.conf" >>"$work/hba"
cp -p "$hba" "$work/hba.old"
if install_file "$work/hba" "$hba" "$(stat -c %a "$hba")" "$(stat -c %U:%G "$hba")"; then
  bad=$(psql_admin -c 'SELECT line_number || $$: $$ || error FROM pg_hba_file_rules WHERE error IS NOT NULL')
  if [ -n "$bad" ]; then
    cp -p "$work/hba.old" "$hba"
    die "PostgreSQL refuses the new pg_hba.conf (the old one is back): $bad"
  fi
  reload
  log "pg_hba admits: $(grep -c '^host ' "$STAGED/hba.conf") Synapse host(s)"
fi

# 2. Where PostgreSQL listens. A changed listen address needs a restart; others a reload.
dropin=/etc/postgresql/$version/$cluster/conf.d/$DROPIN
old=""
if [ -f "$dropin" ]; then cp -p "$dropin" "$work/dropin.old"; old=$work/dropin.old; fi
install_file "$STAGED/listen.conf" "$dropin" 0644 postgres:postgres && reload
pending=$(psql_admin -c 'SELECT string_agg(name, $$, $$) FROM pg_settings WHERE pending_restart')
if [ -n "$pending" ]; then
  log "restarting PostgreSQL $version/$cluster for: $pending"
  pg_restart_with_fallback "$version" "$cluster" "$dropin" "$old"
fi
printf 'listening on %s; admitted: %s\n' "$(psql_admin -c 'SHOW listen_addresses')" "$(grep '^host ' "$STAGED/hba.conf" | awk '{print $4}' | paste -sd ' ')"

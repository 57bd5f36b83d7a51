#!/usr/bin/env bash
# Runs when media leaves the bucket (mediaStorage back to local, or `pulumi destroy`): takes the
# provider check and the drop-in off matrix-synapse. The installed provider and the bucket stay.
# Parameters: ENSURE, DROPIN.
: "${ENSURE:?}" "${DROPIN:?}"
if [ -e "$DROPIN" ]; then
  rm -f "$DROPIN"
  systemctl daemon-reload
fi
rm -f "$ENSURE"
printf 'removed the media storage provider hook from matrix-synapse\n'

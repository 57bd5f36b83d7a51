#!/usr/bin/env bash
# The upload job (synapse-media-upload.service, as matrix-synapse): puts every media file of this
# host into the bucket with the provider's own s3_media_upload, then checks each file's copy in
# the bucket (present, same size). With KEEP_LOCAL=false, a local file is deleted only after its
# copy was checked. Fails (and the unit with it) when a file is still not in the bucket.
# Parameters: TOOL (s3_media_upload), PYTHON (with boto3), MEDIA_STORE, BUCKET, ENDPOINT (empty:
# AWS), KEEP_LOCAL (true|false), HOMESERVER (its database section is read).
: "${TOOL:?}" "${PYTHON:?}" "${MEDIA_STORE:?}" "${BUCKET:?}" "${KEEP_LOCAL:?}" "${HOMESERVER:?}"
endpoint_args=()
[ -z "${ENDPOINT:-}" ] || endpoint_args=(--endpoint-url "$ENDPOINT")

log "1/4 listing the media Synapse knows (update-db)"
"$TOOL" --no-progress update-db 0d --homeserver-config-path "$HOMESERVER"
log "2/4 checking which are on this disk (check-deleted)"
"$TOOL" --no-progress check-deleted "$MEDIA_STORE"
log "3/4 uploading what the bucket $BUCKET lacks (upload)"
"$TOOL" --no-progress upload "$MEDIA_STORE" "$BUCKET" --storage-class STANDARD "${endpoint_args[@]}"
log "4/4 checking every local file's copy in the bucket$([ "$KEEP_LOCAL" = true ] || echo ', deleting the local file once checked')"
"$PYTHON" - "$MEDIA_STORE" "$BUCKET" "${ENDPOINT:-}" "$KEEP_LOCAL" <<'PY'
import os, sys, time
import boto3
from botocore.exceptions import ClientError

store, bucket, endpoint, keep_local = sys.argv[1], sys.argv[2], sys.argv[3] or None, sys.argv[4] == "true"
s3 = boto3.client("s3", endpoint_url=endpoint)
checked = deleted = recent = 0
missing = []
for top in ("local_content", "local_thumbnails", "remote_content", "remote_thumbnail"):
    for root, _, files in os.walk(os.path.join(store, top)):
        for name in files:
            path = os.path.join(root, name)
            key = os.path.relpath(path, store)
            size = os.path.getsize(path)
            try:
                stored = s3.head_object(Bucket=bucket, Key=key)["ContentLength"]
            except ClientError as e:
                if e.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
                    raise
                stored = None
            if stored != size:
                # A file Synapse is still writing or uploading is checked on the next run.
                if time.time() - os.path.getmtime(path) < 600:
                    recent += 1
                else:
                    missing.append(f"{key} (local {size} bytes, bucket {stored})")
                continue
            checked += 1
            if not keep_local:
                os.remove(path)
                deleted += 1
print(f"{checked} files are in the bucket with their size; {deleted} local copies deleted; "
      f"{recent} recent files left for the next run", flush=True)
if missing:
    print(f"{len(missing)} files are not in the bucket:", *missing[:50], sep="\n  ", file=sys.stderr)
    sys.exit(1)
PY
if [ "$KEEP_LOCAL" != true ]; then
  # Empty directories of deleted files, and the tool's own record of what is gone.
  find "$MEDIA_STORE" -mindepth 2 -type d -empty -delete
  "$TOOL" --no-progress check-deleted "$MEDIA_STORE"
fi
log "done"

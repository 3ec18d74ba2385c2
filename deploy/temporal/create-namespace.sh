#!/bin/sh
# One-shot job (temporalio/admin-tools) that makes sure Drover's namespace
# exists. The server image no longer creates `default` on its own, and Drover's
# worker registers its search attributes in this namespace at startup, so the
# API and worker wait for this job to finish.
set -eu

: "${TEMPORAL_ADDRESS:?TEMPORAL_ADDRESS must be set}"
NAMESPACE="${TEMPORAL_NAMESPACE:-default}"
RETENTION="${TEMPORAL_NAMESPACE_RETENTION:-168h}"

# The port being open (the server's health check) does not mean the frontend
# already serves requests; wait for the health RPC, but not forever.
attempt=0
until temporal operator cluster health --address "$TEMPORAL_ADDRESS" >/dev/null 2>&1; do
  attempt=$((attempt + 1))
  if [ "$attempt" -ge 60 ]; then
    echo "temporal at ${TEMPORAL_ADDRESS} not serving after ${attempt} attempts" >&2
    exit 1
  fi
  sleep 2
done

if temporal operator namespace describe --address "$TEMPORAL_ADDRESS" -n "$NAMESPACE" >/dev/null 2>&1; then
  echo "namespace ${NAMESPACE} already exists"
else
  temporal operator namespace create --address "$TEMPORAL_ADDRESS" -n "$NAMESPACE" --retention "$RETENTION"
  echo "namespace ${NAMESPACE} created (retention ${RETENTION})"
fi

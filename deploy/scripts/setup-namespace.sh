#!/bin/sh
# Creates the namespace and registers the agent's search attributes (the workflow upserts them; the
# ops UI and `agent list/pending` query them). Idempotent.
set -eu
NS="${TEMPORAL_NAMESPACE:-default}"
ADDR="${TEMPORAL_ADDRESS:-temporal:7233}"
until temporal operator cluster health --address "$ADDR" >/dev/null 2>&1; do echo "waiting for Temporal..."; sleep 2; done
temporal operator namespace describe -n "$NS" --address "$ADDR" >/dev/null 2>&1 \
  || temporal operator namespace create -n "$NS" --retention "${NAMESPACE_RETENTION:-30d}" --address "$ADDR"
for attribute in AgentStatus=Keyword AgentLastActivityTime=Datetime AgentPendingApprovals=Int AgentModel=Keyword AgentName=Keyword; do
  name="${attribute%%=*}"; type="${attribute#*=}"
  temporal operator search-attribute list -n "$NS" --address "$ADDR" | grep -q "^ *$name " \
    || temporal operator search-attribute create -n "$NS" --name "$name" --type "$type" --address "$ADDR"
done
echo "namespace $NS ready"

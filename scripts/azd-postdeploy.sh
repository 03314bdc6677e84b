#!/usr/bin/env bash
# azd's postdeploy hook (azure.yaml): subscribes the deployment to blob events once the function code
# is deployed, by deploying infra/eventgrid-subscription.bicep, which defines both Event Grid
# subscriptions (docs/deploy.md's step 3 does the same without azd). The BlobCreated webhook needs the
# intake app's "blobs_extension" system key, which the Functions host creates only once it runs the
# deployed code: the hook waits for the key a bounded number of times, then deploys. The template reads
# the key itself, so the key is never passed on the command line.
#
# Reads azd's environment: AZURE_SUBSCRIPTION_ID, and main.bicep's outputs AZURE_RESOURCE_GROUP,
# AZURE_EVENTGRID_SYSTEM_TOPIC, AZURE_INTAKE_FUNCTION_APP_NAME. DPQ_KEY_ATTEMPTS (30) and
# DPQ_KEY_INTERVAL_SECONDS (10) bound the wait. Needs the Azure CLI, signed in (az login).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TEMPLATE="$REPO_ROOT/infra/eventgrid-subscription.bicep"

fail() { printf 'azd-postdeploy: error: %s\n' "$*" >&2; exit 1; }
say() { printf 'azd-postdeploy: %s\n' "$*" >&2; }

require_env() {
  local missing=() name
  for name in "$@"; do
    [ -n "${!name:-}" ] || missing+=("$name")
  done
  [ ${#missing[@]} -eq 0 ] || fail "${missing[*]} not set: run it through azd ('azd up' or 'azd deploy'), whose environment has them once 'azd provision' has run"
}

require_count() {
  [[ "${!1}" =~ ^[0-9]+$ ]] || fail "$1 must be a whole number (got '${!1}')"
}

# Whether the intake app has its blobs_extension system key yet; a failed lookup counts as not yet.
blobs_key_exists() {
  local key
  key="$(az functionapp keys list --subscription "$AZURE_SUBSCRIPTION_ID" -g "$AZURE_RESOURCE_GROUP" \
    -n "$AZURE_INTAKE_FUNCTION_APP_NAME" --query systemKeys.blobs_extension -o tsv 2>"$LOOKUP_ERRORS")" || return 1
  [ -n "$key" ]
}

wait_for_blobs_key() {
  local attempt
  for ((attempt = 1; attempt <= DPQ_KEY_ATTEMPTS; attempt++)); do
    if blobs_key_exists; then return 0; fi
    if [ "$attempt" -lt "$DPQ_KEY_ATTEMPTS" ]; then
      say "the intake app has no blobs_extension key yet (try $attempt of $DPQ_KEY_ATTEMPTS); waiting ${DPQ_KEY_INTERVAL_SECONDS}s"
      sleep "$DPQ_KEY_INTERVAL_SECONDS"
    fi
  done
  local last; last="$(tr '\n' ' ' <"$LOOKUP_ERRORS")"
  fail "the intake app $AZURE_INTAKE_FUNCTION_APP_NAME has no blobs_extension system key after $DPQ_KEY_ATTEMPTS tries: is its code deployed ('azd deploy intake') and running?${last:+ The last lookup said: $last}"
}

main() {
  require_env AZURE_SUBSCRIPTION_ID AZURE_RESOURCE_GROUP AZURE_EVENTGRID_SYSTEM_TOPIC AZURE_INTAKE_FUNCTION_APP_NAME
  DPQ_KEY_ATTEMPTS="${DPQ_KEY_ATTEMPTS:-30}"
  DPQ_KEY_INTERVAL_SECONDS="${DPQ_KEY_INTERVAL_SECONDS:-10}"
  require_count DPQ_KEY_ATTEMPTS
  require_count DPQ_KEY_INTERVAL_SECONDS
  [ "$DPQ_KEY_ATTEMPTS" -ge 1 ] || fail "DPQ_KEY_ATTEMPTS must be at least 1"
  command -v az >/dev/null || fail "the Azure CLI (az) is not installed; it deploys the Event Grid subscriptions"

  LOOKUP_ERRORS="$(mktemp)"
  trap 'rm -f "$LOOKUP_ERRORS"' EXIT
  wait_for_blobs_key

  say "subscribing $AZURE_INTAKE_FUNCTION_APP_NAME and the blob-events queue to $AZURE_EVENTGRID_SYSTEM_TOPIC"
  az deployment group create --subscription "$AZURE_SUBSCRIPTION_ID" -g "$AZURE_RESOURCE_GROUP" \
    --name dpq-eventgrid-subscriptions -f "$TEMPLATE" \
    -p systemTopicName="$AZURE_EVENTGRID_SYSTEM_TOPIC" intakeAppName="$AZURE_INTAKE_FUNCTION_APP_NAME" \
    --only-show-errors -o none
  say "done: uploads reach the intake app, deletes the blob-events queue"
}

main "$@"

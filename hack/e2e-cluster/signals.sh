#!/usr/bin/env bash
# Signal senders of the end-to-end checks, sourced by checks.sh: Alertmanager
# webhook (v4) payloads posted to the gateway, and bursts of them in
# parallel, each answer's HTTP code written to a results file.

# am_payload DEPLOYMENT: a firing Alertmanager notification about one
# Deployment in the namespace shop.
am_payload() {
  local d=$1
  cat <<JSON
{"version":"4","groupKey":"{}:{alertname=\"KubeDeploymentReplicasMismatch\",deployment=\"$d\"}","truncatedAlerts":0,
 "status":"firing","receiver":"rrguard","groupLabels":{"alertname":"KubeDeploymentReplicasMismatch"},
 "commonLabels":{"alertname":"KubeDeploymentReplicasMismatch","namespace":"shop","deployment":"$d","severity":"critical"},
 "commonAnnotations":{},"externalURL":"http://alertmanager.e2e","alerts":[{"status":"firing",
 "labels":{"alertname":"KubeDeploymentReplicasMismatch","namespace":"shop","deployment":"$d","severity":"critical","job":"kube-state-metrics"},
 "annotations":{"summary":"Deployment $d has not matched its replicas."},
 "startsAt":"2026-01-01T00:00:00Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"","fingerprint":"e2e$d"}]}
JSON
}

# post_signal DEPLOYMENT: posts one notification until a 2xx answer (at most
# 30 tries, as Alertmanager retries), appending "DEPLOYMENT CODE" per try to
# $RESULTS. Needs GATEWAY_URL, TOKEN_FILE, CURL_TLS and RESULTS exported.
post_signal() {
  local d=$1 code try
  for try in $(seq 30); do
    # shellcheck disable=SC2086 # CURL_TLS is a list of curl options
    code=$(am_payload "$d" | curl -sS -o /dev/null -w '%{http_code}' --max-time 20 $CURL_TLS \
      -H "Authorization: Bearer $(cat "$TOKEN_FILE")" -H 'Content-Type: application/json' \
      --data-binary @- "$GATEWAY_URL/api/v1/signals/prometheus" 2>/dev/null) || code=000
    echo "$d $code" >>"$RESULTS"
    [[ $code == 2* ]] && return 0
    sleep 0.5
  done
  return 1
}
export -f am_payload post_signal

# burst PARALLELISM DEPLOYMENT...: posts one notification per argument, that
# many at a time.
burst() {
  local p=$1; shift
  printf '%s\n' "$@" | xargs -P "$p" -I{} bash -c 'post_signal "$1"' _ {}
}

# answers FILE DEPLOYMENT CODE_GLOB: how many tries about DEPLOYMENT got a
# code matching CODE_GLOB (e.g. '2*').
answers() {
  local file=$1 d=$2 glob=$3
  awk -v d="$d" -v g="^${glob//\*/.*}\$" '$1==d && $2 ~ g {n++} END {print n+0}' "$file"
}

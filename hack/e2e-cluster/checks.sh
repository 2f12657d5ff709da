#!/usr/bin/env bash
# The end-to-end checks, sourced by run.sh after up.sh: cert-manager's
# install, rrguard's install with `kubectl apply -k`, and what must then hold
# in the cluster. Each check prints the evidence it judged by, and fails the
# run when it does not hold.
source "$HERE/signals.sh"

RR=remediationrequests.kubernaut.ai
E2E_NS=rrguard-e2e          # the senders: a ServiceAccount and Alertmanager
kj() { kubectl "$@" -o json; }

install_cert_manager() {
  step "cert-manager $CERT_MANAGER_VERSION: kubectl apply -k (controller, cainjector, webhook from source)"
  local dir="$WORK/cert-manager" src
  rm -rf "$dir" && cp -r "$HERE/cert-manager" "$dir"
  src=$(cd "$ROOT/tools/certmanager" && go mod download -json github.com/cert-manager/cert-manager | jq -r .Dir)
  # The release's CRDs, less the Helm template lines among their labels.
  local f
  for f in "$src"/deploy/crds/crd-*.yaml; do
    echo "---"
    sed -e '/{{/d' "$f"
  done >"$dir/crds.yaml"
  if grep -q '{{' "$dir/crds.yaml"; then fail "a Helm template is left in the rendered CRDs"; fi
  {
    echo "images:"
    for c in controller cainjector webhook; do
      printf -- '- name: cert-manager-%s\n  newName: %s-%s\n  newTag: %s\n' "$c" "$CERT_MANAGER_IMAGE_PREFIX" "$c" "$CERT_MANAGER_VERSION"
    done
  } >>"$dir/kustomization.yaml"
  kubectl apply --server-side -k "$dir" | sed 's/^/     /'
  kubectl -n cert-manager rollout status deploy/cert-manager deploy/cert-manager-cainjector \
    deploy/cert-manager-webhook --timeout=300s | sed 's/^/     /'
  wait_for 120 "cainjector to inject cert-manager's own webhook CA" \
    'test -n "$(kubectl get validatingwebhookconfiguration cert-manager-webhook -o jsonpath="{.webhooks[0].clientConfig.caBundle}")"'
  evidence "cert-manager's webhook CA injected by its cainjector: $(kubectl get validatingwebhookconfiguration cert-manager-webhook \
    -o jsonpath='{.webhooks[0].clientConfig.caBundle}' | base64 -d | openssl x509 -noout -subject)"
  # The cert-manager webhook answers through its Service before anything
  # depends on it: a dry-run Issuer is validated by it.
  local issuer='{"apiVersion":"cert-manager.io/v1","kind":"Issuer","metadata":{"name":"probe"},"spec":{"selfSigned":{}}}'
  wait_for 120 "the cert-manager webhook to admit a dry-run Issuer" \
    'kubectl -n default create --dry-run=server -f - <<<"$issuer"'
  evidence "a dry-run Issuer passed cert-manager's webhook through its Service"
}

# overlay VARIANT: a kustomization that retags the image of manifests/VARIANT
# to the one imported here, as a user's overlay does; prints its folder.
overlay() {
  local variant=$1 dir="$WORK/rrguard-$1"
  mkdir -p "$dir"
  local rel
  rel=$(realpath --relative-to="$dir" "$ROOT/manifests/$variant")
  cat >"$dir/kustomization.yaml" <<YAML
resources:
- $rel
images:
- name: ghcr.io/rrguard/rrguard
  newName: ${RRGUARD_IMAGE%:*}
  newTag: ${RRGUARD_IMAGE##*:}
- name: rrguard
  newName: ${RRGUARD_IMAGE%:*}
  newTag: ${RRGUARD_IMAGE##*:}
YAML
  echo "$dir"
}

# rrguard_ns DIR: the namespace the webhook Deployment of the rendered DIR is in.
rrguard_ns() {
  kubectl kustomize "$1" | awk '/^kind: Deployment/{d=1} d&&/^  namespace:/{print $2; exit}'
}

# component NS COMPONENT: the name of rrguard's Deployment for COMPONENT.
component() {
  kubectl -n "$1" get deploy -l "app.kubernetes.io/name=rrguard,app.kubernetes.io/component=$2" \
    -o jsonpath='{.items[0].metadata.name}'
}

# ready_endpoints NS SERVICE: how many ready endpoints the Service has.
ready_endpoints() {
  kj -n "$1" get endpointslices -l "kubernetes.io/service-name=$2" |
    jq '[.items[].endpoints[]? | select(.conditions.ready == true)] | length'
}

# rr_json NAME FINGERPRINT: a RemediationRequest with every field that
# kubernaut's own CRD requires.
rr_json() {
  local now
  now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  printf '{"apiVersion":"kubernaut.ai/v1alpha1","kind":"RemediationRequest","metadata":{"name":"%s"},"spec":{"signalFingerprint":"%s","signalName":"E2EProbe","severity":"critical","signalType":"prometheus","firingTime":"%s","receivedTime":"%s","targetType":"kubernetes","targetResource":{"kind":"Deployment","name":"probe","namespace":"e2e-direct"}}}' "$1" "$2" "$now" "$now"
}

# install_gated DIR NS: installs with cert-manager's controller stopped and a
# placeholder serving certificate in place, so that the webhook pods run and
# serve TLS but are not Ready (their Certificate is not); shows that the API
# server sends no admission to them; then lets cert-manager issue.
install_gated() {
  local dir=$1 ns=$2
  step "readiness gates traffic: rrguard installed while cert-manager's controller is stopped"
  kubectl -n cert-manager scale deploy/cert-manager --replicas=0 >/dev/null
  wait_for 90 "cert-manager's controller to stop" \
    'test -z "$(kubectl -n cert-manager get pods -l app.kubernetes.io/component=controller -o name)"'
  kubectl create namespace "$ns" >/dev/null
  # A placeholder certificate lets the pods start (the Secret volume is not
  # optional); only the Certificate's Ready condition is missing.
  cert placeholder "rrguard-webhook.$ns.svc" "" serverAuth "DNS:rrguard-webhook.$ns.svc"
  kubectl -n "$ns" create secret generic rrguard-webhook-server-cert --type=kubernetes.io/tls \
    --from-file=tls.crt="$PKI/placeholder.crt" --from-file=tls.key="$PKI/placeholder.key" >/dev/null
  kubectl apply --server-side -k "$dir" | sed 's/^/     /'
  local webhook
  webhook=$(component "$ns" webhook)
  wait_for 180 "both webhook pods Running" 'test "$(kubectl -n "$ns" get pods -l app.kubernetes.io/component=webhook \
    --field-selector=status.phase=Running -o name | wc -l)" -ge 2'
  sleep 25 # five readiness periods past the probe's initial delay
  kubectl -n "$ns" get pods -l app.kubernetes.io/component=webhook | sed 's/^/     /'
  local ready
  ready=$(ready_endpoints "$ns" "$webhook")
  [[ "$ready" == 0 ]] || fail "the webhook Service has $ready ready endpoints before its Certificate is Ready"
  evidence "pods Running, not Ready; the Service $webhook has 0 ready endpoints"
  evidence "why, from the webhook's log: $(kubectl -n "$ns" logs "deploy/$webhook" 2>/dev/null | grep -m1 '"logger":"certs"' |
    jq -r '.msg + " (" + .reason + ")"')"
  kubectl create namespace e2e-direct >/dev/null
  local out
  if out=$(kubectl -n e2e-direct create -f - <<<"$(rr_json gated-probe "$(printf 'a%.0s' {1..64})")" 2>&1); then
    fail "a RemediationRequest was admitted while no webhook pod was Ready: $out"
  fi
  [[ "$out" == *"no endpoints available"* || "$out" == *"connection refused"* ]] ||
    fail "the create failed, but not for want of ready endpoints: $out"
  evidence "a create is refused without reaching a pod (kube-proxy rejects a Service with no ready endpoint): ${out##*: }"
  # Yet each pod serves TLS on its own address: only readiness keeps it out.
  local ip subject
  for ip in $(kubectl -n "$ns" get pods -l app.kubernetes.io/component=webhook -o jsonpath='{.items[*].status.podIP}'); do
    subject=$(openssl s_client -connect "$ip:9443" </dev/null 2>/dev/null | openssl x509 -noout -subject) ||
      fail "webhook pod $ip does not serve TLS on 9443"
    evidence "pod $ip serves TLS on 9443 all the same ($subject)"
  done
  kubectl -n cert-manager scale deploy/cert-manager --replicas=1 >/dev/null
  note "cert-manager's controller started again"
}

# check_certificate NS: cert-manager issued the webhook's certificate and its
# cainjector put the CA into rrguard's ValidatingWebhookConfiguration.
check_certificate() {
  local ns=$1
  step "cert-manager issues the webhook's certificate and injects the CA"
  local certname webhook
  webhook=$(component "$ns" webhook)
  # The webhook's Certificate: the one naming its Service (a variant may
  # also hold a CA's and the gateway's).
  certname=$(kj -n "$ns" get certificates.cert-manager.io |
    jq -r --arg h "$webhook.$ns.svc" '.items[] | select((.spec.dnsNames // []) | index($h)) | .metadata.name' | head -1)
  [[ -n "$certname" ]] || fail "no cert-manager Certificate in $ns names $webhook.$ns.svc"
  kubectl -n "$ns" wait --for=condition=Ready "certificate/$certname" --timeout=180s >/dev/null
  local secret crt
  secret=$(kubectl -n "$ns" get certificate "$certname" -o jsonpath='{.spec.secretName}')
  crt=$(kubectl -n "$ns" get secret "$secret" -o jsonpath='{.data.tls\.crt}' | base64 -d)
  evidence "Certificate $ns/$certname Ready: $(kubectl -n "$ns" get certificate "$certname" -o jsonpath='{.status.conditions[?(@.type=="Ready")].message}')"
  evidence "Secret $secret issued by cert-manager: $(openssl x509 -noout -ext subjectAltName -enddate <<<"$crt" | tr '\n' ' ' | tr -s ' ')"
  evidence "issuer annotation: $(kubectl -n "$ns" get secret "$secret" -o jsonpath='{.metadata.annotations.cert-manager\.io/issuer-name}')"
  # Each webhook pod serves it (the kubelet refreshes a mounted Secret within
  # about a minute, and the webhook reloads its files).
  local issued ip served
  issued=$(openssl x509 -noout -fingerprint -sha256 <<<"$crt")
  for ip in $(kubectl -n "$ns" get pods -l app.kubernetes.io/component=webhook -o jsonpath='{.items[*].status.podIP}'); do
    local deadline=$((SECONDS + 180))
    until served=$(openssl s_client -connect "$ip:9443" </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256) &&
      [[ "$served" == "$issued" ]]; do
      ((SECONDS < deadline)) || fail "webhook pod $ip serves ${served:-nothing}, not the issued $issued"
      sleep 2
    done
  done
  evidence "every webhook pod serves the issued certificate ($issued)"
  local vwc want got i=0
  vwc=$(kubectl get validatingwebhookconfigurations -l app.kubernetes.io/name=rrguard -o jsonpath='{.items[0].metadata.name}')
  want=$(kubectl -n "$ns" get secret "$secret" -o jsonpath='{.data.ca\.crt}' | base64 -d | openssl x509 -noout -fingerprint -sha256)
  wait_for 120 "cainjector to inject the CA into $vwc" \
    'test -n "$(kubectl get validatingwebhookconfiguration "$vwc" -o jsonpath="{.webhooks[-1].clientConfig.caBundle}")"'
  for got in $(kubectl get validatingwebhookconfiguration "$vwc" -o jsonpath='{range .webhooks[*]}{.clientConfig.caBundle}{" "}{end}'); do
    got=$(base64 -d <<<"$got" | openssl x509 -noout -fingerprint -sha256)
    [[ "$got" == "$want" ]] || fail "webhook $i of $vwc trusts $got, not the Certificate's CA $want"
    i=$((i + 1))
  done
  evidence "CA injected into all $i webhooks of $vwc (annotation $(kubectl get validatingwebhookconfiguration "$vwc" \
    -o jsonpath='{.metadata.annotations.cert-manager\.io/inject-ca-from}')): $want"
}

# check_webhook_service NS: two Ready replicas behind the Service and a
# PodDisruptionBudget; the API server reaches them through the Service
# (an allowed create, then a denied duplicate); both decisions audited.
check_webhook_service() {
  local ns=$1 webhook
  webhook=$(component "$ns" webhook)
  step "the API server calls the webhook through its Service (two replicas, a PodDisruptionBudget)"
  kubectl -n "$ns" rollout status "deploy/$webhook" --timeout=180s | sed 's/^/     /'
  wait_for 60 "2 ready endpoints behind $webhook" 'test "$(ready_endpoints "$ns" "$webhook")" -eq 2'
  evidence "Service $ns/$webhook: $(ready_endpoints "$ns" "$webhook") ready endpoints: $(kubectl -n "$ns" get pods \
    -l app.kubernetes.io/component=webhook -o jsonpath='{range .items[*]}{.metadata.name}={.status.podIP} {end}')"
  evidence "webhook pods run the imported image, never pulled: $(kubectl -n "$ns" get pods -l app.kubernetes.io/component=webhook \
    -o jsonpath='{.items[0].status.containerStatuses[0].image} {.items[0].status.containerStatuses[0].imageID}'), as uid $(
    kubectl -n "$ns" get pods -l app.kubernetes.io/component=webhook -o jsonpath='{.items[0].spec.securityContext.runAsUser}') with a read-only root filesystem"
  evidence "PodDisruptionBudget: $(kubectl -n "$ns" get pdb -l app.kubernetes.io/component=webhook \
    -o jsonpath='{range .items[*]}{.metadata.name} minAvailable={.spec.minAvailable} maxUnavailable={.spec.maxUnavailable} currentHealthy={.status.currentHealthy} disruptionsAllowed={.status.disruptionsAllowed}{end}')"
  kubectl create namespace e2e-direct >/dev/null 2>&1 || true
  local fp out since
  fp=$(printf 'b%.0s' {1..64})
  since=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  kubectl -n e2e-direct create -f - <<<"$(rr_json direct-first "$fp")" >/dev/null
  evidence "RemediationRequest e2e-direct/direct-first admitted"
  if out=$(kubectl -n e2e-direct create -f - <<<"$(rr_json direct-second "$fp")" 2>&1); then
    fail "a second active RemediationRequest for one fingerprint was admitted"
  fi
  evidence "e2e-direct/direct-second denied: ${out#*: }"
  local lines
  lines=$(kubectl -n "$ns" logs -l app.kubernetes.io/component=webhook --prefix --since-time="$since" | grep '"admission decision"' |
    grep '"namespace":"e2e-direct"' | grep -E '"name":"direct-(first|second)"' || true)
  [[ $(grep -c '"decision":"allowed"' <<<"$lines") -ge 1 && $(grep -c '"decision":"denied"' <<<"$lines") -ge 1 ]] ||
    fail "the webhook's audit lines for the two creates are not in kubectl logs: $lines"
  evidence "audit lines in kubectl logs:"
  sed 's/^\[[^]]*\] //' <<<"$lines" | jq -c '{decision, name, fingerprint, reason, holder, claimAction}' | sed 's/^/     /'
}

# gateway_setup NS: the gateway's URL through its Service, the TLS options to
# reach it, the audience its tokens must carry, and a token for a
# ServiceAccount bound to rrguard's signal-sender ClusterRole. Exports
# GATEWAY_URL, CURL_TLS, TOKEN_FILE, AUDIENCE, GATEWAY_HOST.
gateway_setup() {
  local ns=$1 gw svc_json port_name port ip
  gw=$(component "$ns" gateway)
  kubectl -n "$ns" rollout status "deploy/$gw" --timeout=180s >/dev/null
  wait_for 60 "2 ready endpoints behind $gw" 'test "$(ready_endpoints "$ns" "$gw")" -eq 2'
  svc_json=$(kj -n "$ns" get service "$gw")
  ip=$(jq -r .spec.clusterIP <<<"$svc_json")
  port=$(jq -r '.spec.ports[0].port' <<<"$svc_json")
  port_name=$(jq -r '.spec.ports[0].name' <<<"$svc_json")
  GATEWAY_HOST="$gw.$ns.svc"
  CURL_TLS=""
  if [[ "$port_name" == https* || "$port" == 443 ]]; then
    # The gateway's serving certificate: the cert-manager Certificate that
    # names the gateway Service.
    local cert secret
    cert=$(kj -n "$ns" get certificates.cert-manager.io |
      jq -r --arg h "$GATEWAY_HOST" '.items[] | select((.spec.dnsNames // []) | index($h)) | .metadata.name' | head -1)
    [[ -n "$cert" ]] || fail "the gateway serves on $port_name/$port, but no Certificate names $GATEWAY_HOST"
    kubectl -n "$ns" wait --for=condition=Ready "certificate/$cert" --timeout=180s >/dev/null
    secret=$(kubectl -n "$ns" get certificate "$cert" -o jsonpath='{.spec.secretName}')
    kubectl -n "$ns" get secret "$secret" -o jsonpath='{.data.ca\.crt}' | base64 -d >"$WORK/gateway-ca.crt"
    GATEWAY_URL="https://$GATEWAY_HOST:$port"
    CURL_TLS="--cacert $WORK/gateway-ca.crt --resolve $GATEWAY_HOST:$port:$ip"
    GATEWAY_TLS=yes
    evidence "the gateway serves TLS on $GATEWAY_URL (Certificate $ns/$cert)"
  else
    GATEWAY_URL="http://$ip:$port"
    GATEWAY_TLS=no
    note "NOT LANDED: the gateway Service serves plain HTTP ($port_name/$port): the gateway's TLS work is not on this branch"
  fi
  RR_NS=$(kj -n "$ns" get deploy "$gw" | jq -r '.spec.template.spec.containers[0].args[]' |
    sed -n 's/^--namespace=//p' | head -1)
  RR_NS=${RR_NS:-$ns}
  note "the gateway creates RemediationRequests in $RR_NS"
  AUDIENCE=$(kj -n "$ns" get deploy "$gw" | jq -r '.spec.template.spec.containers[0].args[]' |
    sed -n 's/^--[a-z-]*audiences\{0,1\}=//p' | cut -d, -f1 | head -1)
  kubectl create namespace "$E2E_NS" >/dev/null 2>&1 || true
  kubectl -n "$E2E_NS" create serviceaccount e2e-sender >/dev/null 2>&1 || true
  kubectl create clusterrolebinding rrguard-e2e-sender --clusterrole=rrguard-signal-sender \
    --serviceaccount="$E2E_NS:e2e-sender" >/dev/null 2>&1 || true
  TOKEN_FILE="$WORK/sender.token"
  if [[ -n "$AUDIENCE" ]]; then
    kubectl -n "$E2E_NS" create token e2e-sender --audience "$AUDIENCE" --duration 1h >"$TOKEN_FILE"
    evidence "sender token bound to the gateway's audience $AUDIENCE"
    # The same ServiceAccount's token for the API server's audience is refused.
    local code
    # shellcheck disable=SC2086 # CURL_TLS is a list of curl options
    code=$(am_payload audience-probe | curl -sS -o /dev/null -w '%{http_code}' $CURL_TLS \
      -H "Authorization: Bearer $(kubectl -n "$E2E_NS" create token e2e-sender --duration 10m)" \
      -H 'Content-Type: application/json' --data-binary @- "$GATEWAY_URL/api/v1/signals/prometheus") || code=000
    [[ "$code" == 401 ]] || fail "a token for the API server's audience got $code from the gateway, not 401"
    evidence "a token of the same ServiceAccount for the API server's audience: 401"
  else
    kubectl -n "$E2E_NS" create token e2e-sender --duration 1h >"$TOKEN_FILE"
    note "NOT LANDED: the gateway names no token audience (no --audience flag): tokens carry the API server's audience"
  fi
  export GATEWAY_URL CURL_TLS TOKEN_FILE AUDIENCE GATEWAY_HOST GATEWAY_TLS RR_NS
}

# rr_for DEPLOYMENT: the RemediationRequests (in the gateway's namespace
# RR_NS) about Deployment shop/DEPLOYMENT, one line each: name occurrenceCount.
rr_for() {
  kj -n "$RR_NS" get "$RR" | jq -r --arg d "$1" \
    '.items[] | select(.spec.targetResource.name == $d and .spec.targetResource.namespace == "shop")
     | "\(.metadata.name) \(.status.deduplication.occurrenceCount // 0)"'
}

# gateway_audited NS FINGERPRINT: the gateway's audit lines (kubectl logs) for
# FINGERPRINT with a 2xx code.
gateway_audited() {
  kubectl -n "$1" logs -l app.kubernetes.io/component=gateway --prefix --tail=-1 | grep '"signal decision"' |
    grep -c "\"fingerprint\":\"$2\".*\"code\":20[12]\|\"code\":20[12].*\"fingerprint\":\"$2\"" || true
}

# expect_counted NS DEPLOYMENT RESULTS: one RR about DEPLOYMENT whose count
# equals the 2xx answers in RESULTS (waits for the count to settle).
expect_counted() {
  local ns=$1 d=$2 results=$3 ok2xx rrs
  ok2xx=$(answers "$results" "$d" '2*')
  local deadline=$((SECONDS + 60))
  while :; do
    rrs=$(rr_for "$d")
    [[ $(wc -l <<<"$rrs") == 1 && "${rrs#* }" == "$ok2xx" ]] && break
    ((SECONDS < deadline)) || fail "$d: want one RR counting $ok2xx, have: ${rrs:-none}"
    sleep 1
  done
  echo "${rrs% *} $ok2xx"
}

# check_burst NS N: N identical notifications at once, 32 at a time, through
# the gateway's Service: one RR, counting exactly the 2xx answers, and as
# many 2xx audit lines in kubectl logs.
check_burst() {
  local ns=$1 n=$2 d=burst-one
  step "a burst of $n identical alerts gives one RR counted exactly (through the gateway Service, 2 replicas)"
  export RESULTS="$WORK/burst.results"
  : >"$RESULTS"
  local start=$SECONDS
  # shellcheck disable=SC2046
  burst 32 $(yes "$d" | head -n "$n") || fail "a sender gave up after 30 tries"
  local got rr count fp
  got=$(expect_counted "$ns" "$d" "$RESULTS")
  rr=${got% *}; count=${got#* }
  fp=$(kubectl -n "$RR_NS" get "$RR" "$rr" -o jsonpath='{.spec.signalFingerprint}')
  evidence "$n posts in $((SECONDS - start))s: answers $(awk '{print $2}' "$RESULTS" | sort | uniq -c | tr -s ' ' | tr '\n' ',')"
  evidence "one RR $RR_NS/$rr, status.deduplication.occurrenceCount=$count = the $count 2xx answers"
  local audited
  audited=$(gateway_audited "$ns" "$fp")
  [[ "$audited" == "$count" ]] || fail "the gateway's audit lines show $audited 2xx decisions for $fp, the senders saw $count"
  evidence "$audited 'signal decision' audit lines with code 201/202 for fingerprint ${fp:0:12}… in kubectl logs, by replica: $(
    kubectl -n "$ns" logs -l app.kubernetes.io/component=gateway --prefix --tail=-1 | grep '"signal decision"' |
      grep "\"fingerprint\":\"$fp\"" | grep -E '"code":20[12]' | awk '{print $1}' | sort | uniq -c | tr -s ' ' | tr '\n' ',')"
}

# check_webhook_pod_loss NS: distinct incidents, each posted 3 times, while
# one webhook pod is deleted: every incident one RR whose count equals its
# 2xx answers (senders retry a refusal, as Alertmanager does).
check_webhook_pod_loss() {
  local ns=$1 incidents=100
  step "deleting one webhook pod mid-burst loses nothing ($incidents incidents x 3 posts)"
  export RESULTS="$WORK/podloss.results"
  : >"$RESULTS"
  local names=() i
  for i in $(seq -w 1 "$incidents"); do names+=("loss-$i" "loss-$i" "loss-$i"); done
  burst 16 "${names[@]}" &
  local sender=$!
  sleep 1
  local victim
  victim=$(kubectl -n "$ns" get pods -l app.kubernetes.io/component=webhook -o jsonpath='{.items[0].metadata.name}')
  kubectl -n "$ns" delete pod "$victim" --wait=false >/dev/null
  note "deleted webhook pod $victim while $(wc -l <"$RESULTS") of ${#names[@]} posts had been answered"
  wait "$sender" || fail "a sender gave up after 30 tries"
  local d got total=0 retried
  for i in $(seq -w 1 "$incidents"); do
    d="loss-$i"
    got=$(expect_counted "$ns" "$d" "$RESULTS")
    total=$((total + ${got#* }))
  done
  retried=$(awk '$2 !~ /^2/' "$RESULTS" | wc -l)
  evidence "$incidents incidents -> $incidents RRs, each counting its own 2xx answers ($total in all, of ${#names[@]} posts)"
  evidence "refused tries, each retried until answered: $retried ($(awk '$2 !~ /^2/ {print $2}' "$RESULTS" | sort | uniq -c | tr -s ' ' | tr '\n' ','))"
  local webhook
  webhook=$(component "$ns" webhook)
  kubectl -n "$ns" rollout status "deploy/$webhook" --timeout=180s >/dev/null
  wait_for 120 "the replacement webhook pod Ready" 'test "$(ready_endpoints "$ns" "$webhook")" -eq 2'
  evidence "the Deployment replaced $victim: 2 ready endpoints again"
}

# am_metric URL NAME: the sum of Alertmanager's NAME for the webhook integration.
am_metric() {
  curl -sS "$1/metrics" | awk -v n="$2" '$1 ~ "^"n"\\{" && $1 ~ /integration="webhook"/ {s += $2} END {print s+0}'
}

# check_alertmanager NS: Alertmanager in a pod, with a projected token,
# notifies the gateway; 50 identical alerts pushed to it at once give one RR
# whose count equals the notifications the gateway answered with a 2xx.
check_alertmanager() {
  local ns=$1
  step "Alertmanager in a pod notifies the gateway (projected token; TLS: $GATEWAY_TLS)"
  GATEWAY_IP=$(kubectl -n "$ns" get service "$(component "$ns" gateway)" -o jsonpath='{.spec.clusterIP}')
  AM_TLS_CONFIG="" AM_TOKEN_AUDIENCE=""
  if [[ "$GATEWAY_TLS" == yes ]]; then
    kubectl -n "$E2E_NS" create configmap rrguard-gateway-ca --from-file=ca.crt="$WORK/gateway-ca.crt" >/dev/null
    AM_TLS_CONFIG="          tls_config:
            ca_file: /var/run/secrets/rrguard/ca.crt"
  fi
  [[ -z "$AUDIENCE" ]] || AM_TOKEN_AUDIENCE="              audience: $AUDIENCE"
  export E2E_NS GATEWAY_IP AM_TLS_CONFIG AM_TOKEN_AUDIENCE ALERTMANAGER_IMAGE
  envsubst <"$HERE/alertmanager.yaml.tmpl" | kubectl apply -f - | sed 's/^/     /'
  kubectl -n "$E2E_NS" rollout status deploy/alertmanager --timeout=180s | sed 's/^/     /'
  local am token_aud
  am="http://$(kubectl -n "$E2E_NS" get service alertmanager -o jsonpath='{.spec.clusterIP}'):9093"
  token_aud=$(kubectl -n "$E2E_NS" get deploy alertmanager -o jsonpath='{.spec.template.spec.volumes[?(@.name=="rrguard")].projected.sources[0].serviceAccountToken.audience}')
  [[ -n "$token_aud" ]] || token_aud="none set: the API server's"
  evidence "Alertmanager pod Ready; token: projected, audience $token_aud; URL $GATEWAY_URL"
  # Ready is not yet reachable: kube-proxy programs the Service a moment later.
  wait_for 60 "Alertmanager through its Service" 'curl -sSf "$am/-/ready"'
  local alert i
  alert='[{"labels":{"alertname":"KubeDeploymentReplicasMismatch","namespace":"shop","deployment":"am-burst","severity":"critical"},"annotations":{"summary":"e2e"}}]'
  local pushed
  pushed=$(for i in $(seq 50); do
    curl -sS -o /dev/null -w '%{http_code}\n' -H 'Content-Type: application/json' -d "$alert" "$am/api/v2/alerts" &
  done | sort | uniq -c | tr -s ' ')
  [[ "$pushed" == " 50 200" ]] || fail "50 alerts pushed to Alertmanager at once were answered: $pushed"
  evidence "50 identical alerts pushed to Alertmanager at once: all answered 200"
  local deadline=$((SECONDS + 90))
  until [[ $(rr_for am-burst | awk '{print $2}' | head -1) -ge 3 ]]; do
    ((SECONDS < deadline)) || fail "no RR about am-burst counted 3 notifications within 90s: $(rr_for am-burst)"
    sleep 1
  done
  am_quiesce "$am" "$ns"
}

# am_quiesce AM NS: silences the alert, waits for Alertmanager's counters to
# settle, then compares its 2xx notifications with the RR's count.
am_quiesce() {
  local am=$1 ns=$2 now end
  now=$(date -u +%Y-%m-%dT%H:%M:%SZ); end=$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)
  curl -sS -o /dev/null -H 'Content-Type: application/json' "$am/api/v2/silences" -d \
    "{\"matchers\":[{\"name\":\"deployment\",\"value\":\"am-burst\",\"isRegex\":false,\"isEqual\":true}],\"startsAt\":\"$now\",\"endsAt\":\"$end\",\"createdBy\":\"e2e\",\"comment\":\"quiesce\"}"
  local sent failed prev=-1 ok
  while :; do
    sleep 8
    sent=$(am_metric "$am" alertmanager_notification_requests_total)
    failed=$(am_metric "$am" alertmanager_notification_requests_failed_total)
    [[ "$sent" == "$prev" ]] && break
    prev=$sent
  done
  ok=$((sent - failed))
  local rrs
  rrs=$(rr_for am-burst)
  [[ $(wc -l <<<"$rrs") == 1 ]] || fail "am-burst: want one RR, have: $rrs"
  [[ "${rrs#* }" == "$ok" ]] || fail "am-burst: the RR counts ${rrs#* }, Alertmanager had $ok notifications answered 2xx ($sent sent, $failed failed)"
  evidence "50 identical alerts -> one RR $RR_NS/${rrs% *}; occurrenceCount=${rrs#* } = Alertmanager's $ok notifications answered 2xx ($sent sent, $failed failed)"
}

# ensure_namespaces DIR NS: creates the namespaces other than NS that DIR's
# objects live in but does not create (kubernaut-system for the kubernaut
# variant: kubernaut's own namespace, there before rrguard in such a cluster).
ensure_namespaces() {
  local dir=$1 ns=$2 n
  for n in $(kubectl kustomize "$dir" | awk '/^  namespace:/ {print $2}' | sort -u); do
    [[ "$n" == "$ns" ]] && continue
    kubectl get namespace "$n" >/dev/null 2>&1 && continue
    kubectl create namespace "$n" >/dev/null
    echo "$n" >>"$WORK/namespaces.created"
    note "created namespace $n, which manifests in $dir expect to exist (a kubernaut cluster has it)"
  done
}

# ensure_managed_scope DIR: where DIR's gateway counts only signals in
# kubernaut's management scope (--require-managed-label, the kubernaut
# variant), opts the signals' namespace shop in as a kubernaut user does:
# labelled kubernaut.ai/managed=true.
ensure_managed_scope() {
  local dir=$1
  kubectl kustomize "$dir" | grep -q -- '--require-managed-label' || return 0
  if ! kubectl get namespace shop >/dev/null 2>&1; then
    kubectl create namespace shop >/dev/null
    echo shop >>"$WORK/namespaces.created"
  fi
  kubectl label namespace shop kubernaut.ai/managed=true --overwrite >/dev/null
  evidence "the gateway counts only signals in kubernaut's management scope (--require-managed-label): namespace shop labelled kubernaut.ai/managed=true"
}

# run_variant VARIANT [gated]: installs manifests/VARIANT with kubectl apply -k
# and runs every check on it.
run_variant() {
  local variant=$1 gated=${2:-} dir ns
  step "rrguard: kubectl apply --server-side -k manifests/$variant (image retagged to $RRGUARD_IMAGE by an overlay)"
  dir=$(overlay "$variant")
  ns=$(rrguard_ns "$dir")
  note "overlay $dir; namespace $ns"
  if ! kubectl kustomize "$dir" | grep -q '^  name: remediationrequests.kubernaut.ai$'; then
    # A variant for a kubernaut cluster brings no CRD: install kubernaut's
    # own, as that cluster has it.
    local crd="$ROOT/test/testenv/testdata/kubernaut-crd/kubernaut.ai_remediationrequests.yaml"
    [[ -f "$crd" ]] || fail "manifests/$variant installs no RemediationRequest CRD and kubernaut's ($crd) is not in the repository"
    kubectl apply --server-side -f "$crd" | sed 's/^/     /'
    kubectl wait --for=condition=Established crd/remediationrequests.kubernaut.ai --timeout=60s >/dev/null
    evidence "manifests/$variant brings no CRD: kubernaut's own CRD installed first (${crd#"$ROOT"/})"
  fi
  ensure_namespaces "$dir" "$ns"
  ensure_managed_scope "$dir"
  if [[ -n "$gated" ]]; then
    install_gated "$dir" "$ns"
  else
    kubectl apply --server-side -k "$dir" | sed 's/^/     /'
  fi
  check_certificate "$ns"
  check_webhook_service "$ns"
  gateway_setup "$ns"
  check_burst "$ns" 200
  check_webhook_pod_loss "$ns"
  check_alertmanager "$ns"
  step "manifests/$variant: every check passed; uninstalling (kubectl delete -k)"
  kubectl delete namespace "$E2E_NS" e2e-direct --ignore-not-found --wait=true --timeout=180s >/dev/null
  kubectl delete clusterrolebinding rrguard-e2e-sender rrguard-e2e-alertmanager --ignore-not-found >/dev/null
  kubectl delete -k "$dir" --ignore-not-found --wait=true --timeout=300s >/dev/null
  kubectl delete crd remediationrequests.kubernaut.ai --ignore-not-found --wait=true --timeout=120s >/dev/null
  if [[ -f "$WORK/namespaces.created" ]]; then
    xargs -r kubectl delete namespace --ignore-not-found --wait=true --timeout=180s <"$WORK/namespaces.created" >/dev/null
    rm -f "$WORK/namespaces.created"
  fi
  evidence "rrguard's objects are gone: $(kubectl get deploy,svc,validatingwebhookconfigurations -A -l app.kubernetes.io/part-of=rrguard -o name | wc -l) left"
}

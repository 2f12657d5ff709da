#!/usr/bin/env bash
# Writes the cluster's PKI and kubeconfigs into $PKI and $WORK with openssl:
# one CA for every client and serving certificate (a test cluster, not
# kubeadm's split CAs), the service-account signing key, and a kubeconfig per
# component. Sourced by up.sh.

# cert NAME CN O USAGE [SAN]: an ECDSA key and a 1-day certificate signed by the CA.
cert() {
  local name=$1 cn=$2 o=$3 usage=$4 san=${5:-}
  local ext="$PKI/$name.ext"
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$usage"
    [[ -n "$san" ]] && echo "subjectAltName=$san"
  } >"$ext"
  local subj="/CN=$cn"
  [[ -n "$o" ]] && subj="/O=$o$subj"
  openssl ecparam -name prime256v1 -genkey -noout -out "$PKI/$name.key" 2>/dev/null
  openssl req -new -key "$PKI/$name.key" -subj "$subj" -out "$PKI/$name.csr" 2>/dev/null
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
    -days 1 -extfile "$ext" -out "$PKI/$name.crt" 2>/dev/null
}

# kubeconfig NAME: a kubeconfig for the client certificate NAME.
kubeconfig() {
  local name=$1 file="$WORK/$1.kubeconfig"
  cat >"$file" <<KC
apiVersion: v1
kind: Config
clusters:
- name: rrguard-e2e
  cluster:
    server: $APISERVER
    certificate-authority: $PKI/ca.crt
users:
- name: $name
  user:
    client-certificate: $PKI/$name.crt
    client-key: $PKI/$name.key
contexts:
- name: rrguard-e2e
  context: {cluster: rrguard-e2e, user: $name}
current-context: rrguard-e2e
KC
}

write_pki() {
  mkdir -p "$PKI"
  openssl ecparam -name prime256v1 -genkey -noout -out "$PKI/ca.key" 2>/dev/null
  openssl req -x509 -new -key "$PKI/ca.key" -subj "/CN=rrguard-e2e-ca" -days 1 -out "$PKI/ca.crt" 2>/dev/null
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$PKI/sa.key" 2>/dev/null
  openssl pkey -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
  cert apiserver kube-apiserver "" serverAuth \
    "DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:$NODE_IP,IP:$KUBERNETES_SVC_IP,IP:127.0.0.1"
  cert apiserver-kubelet-client kube-apiserver-kubelet-client system:masters clientAuth
  cert kubelet-serving "system:node:$NODE_NAME" system:nodes serverAuth "DNS:$NODE_NAME,IP:$NODE_IP"
  cert admin rrguard-e2e-admin system:masters clientAuth
  cert kubelet "system:node:$NODE_NAME" system:nodes clientAuth
  cert controller-manager system:kube-controller-manager "" clientAuth
  cert scheduler system:kube-scheduler "" clientAuth
  cert kube-proxy system:kube-proxy "" clientAuth
  local c
  for c in admin kubelet controller-manager scheduler kube-proxy; do kubeconfig "$c"; done
}

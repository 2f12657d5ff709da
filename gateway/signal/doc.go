// Package signal turns what senders post to the gateway into Signals and
// builds the RemediationRequest each one asks for. It decodes Alertmanager
// webhook payloads (version 4) and Kubernetes Events (core/v1 and
// events.k8s.io/v1), validates them — every field the request copies against
// the schema, every part of the target against apimachinery's name rules,
// the request's size against what etcd will store — and names the resource
// each one is about, from kube-state-metrics labels or the event's object,
// with a Pod climbed to its top-level workload controller through
// metadata-only reads. The request's spec is filled as kubernaut's own
// gateway fills it. It never writes anything; the fingerprint itself comes
// from package dedup.
package signal

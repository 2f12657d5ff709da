// Package signal turns what senders post to the gateway into Signals and
// builds the RemediationRequest each one asks for. It decodes Alertmanager
// webhook payloads (version 4) and Kubernetes Events (core/v1 and
// events.k8s.io/v1), validates them — every field the request copies against
// the schema, every part of the target against apimachinery's name rules,
// the request's size against what etcd will store. It only parses: an
// event names its object, an alert only carries its labels, and which
// object a signal is about is package target's to find on the API server.
// The request's spec is filled as kubernaut's own gateway fills it. It
// never writes anything; the fingerprint itself comes from package dedup.
package signal

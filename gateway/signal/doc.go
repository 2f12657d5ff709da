// Package signal turns what senders post to the gateway into Signals: it
// decodes Alertmanager webhook payloads (version 4) and Kubernetes Events
// (core/v1 and events.k8s.io/v1), validates them, and names the resource each
// one is about — from kube-state-metrics labels or the event's object, with a
// Pod climbed to its top-level workload controller through metadata-only
// reads. It never writes anything; the fingerprint itself comes from package
// dedup.
package signal

// Package target names the object a signal is about, the subject its
// fingerprint is computed from, by the rules of docs/design.md §3: an
// Event's object, or the object an alert's labels name once the scrape
// target's own labels are set aside (label names mapped to kinds by
// discovery, custom resources included), climbed through controller owner
// references to the top controller; a Service stands for the workload it
// selects, a Pod that is gone for the owner its name names, an alert
// without a subject for itself. It reads the API server, metadata-only
// where it can; package signal only parses.
package target

// Package dedup is rrguard's one deduplication core, shared by the gateway
// and the admission webhook. It alone decides:
//
//   - whether a RemediationRequest is active (IsActive),
//   - what an incident's fingerprint is (Fingerprint),
//   - which RemediationRequest holds a fingerprint (Resolver.Resolve: the
//     claim first, the field-selector List only where no claim exists),
//   - for the gateway, whether an ended one still holds it back by
//     kubernaut's suppression rules (Suppresses, GatewayHolder),
//   - whether a new or re-activated RemediationRequest may become the
//     holder (Guard.Admit: the claim protocol of docs/design.md, one
//     function per step in steps.go, with a Coalescer to share decisions),
//   - how old a claim is (Observations: as this replica observed it, never
//     by comparing clocks),
//   - when a claim whose holder is done is marked, unmarked and deleted
//     (ClaimKeeper; the webhook's janitor only schedules it),
//   - for the scan, which active request an unclaimed fingerprint's claim
//     goes to (Guard.Adopt),
//   - and what every denial says (DenialStatus, DenialFromError).
//
// A claim is a coordination.k8s.io/v1 Lease named "rrclaim-<fingerprint>" in
// the RemediationRequest's namespace. The API server makes exactly one thing
// atomic, the name of an object, so the claim's name is the fingerprint and
// it only ever changes by create (AlreadyExists) or by a resourceVersion-
// checked update (Conflict). Every read here goes through a client.Reader
// that callers must back with the API server directly (the manager's
// APIReader), never an informer cache: a cache lags, and a lagging read is a
// duplicate. The one read served from a cache is the look for requests
// stored out of the webhook's reach (steps C2 and C4): it asks the
// replica's fingerprint index (Guard.Index), or else kube-apiserver's watch
// cache, and what it finds counts only once a direct Get confirms it
// (docs/design.md, section 5, says why that is safe).
package dedup

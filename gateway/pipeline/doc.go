// Package pipeline counts the gateway's signals on RemediationRequests:
// it names each signal's object (gateway/target), fingerprints it, checks
// its scope, and counts it (package counter) on the request that holds its
// fingerprint for the gateway — active, or any ended one still suppressing
// by kubernaut's rules (dedup.GatewayHolder) — or on one it creates, so that
// a fingerprint has at most one active request and every signal answered as
// counted is counted exactly once (docs/design.md, steps G1–G9).
//
// What is the gateway's is here: the lookup (G4) — the informer index
// where the webhook guards (internal/rrindex), else the claim and a List on the API
// server — and the create, whose webhook denial names the holder to count
// on instead. The batching of one fingerprint's signals into one
// conditioned status write, the remembered request, settling a write whose
// answer was lost and the deadlines (G2, G5–G9) are package counter's.
package pipeline

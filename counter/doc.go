// Package counter counts signals on RemediationRequests, each exactly once,
// as the gateway counts every signal and the admission webhook counts the
// creates it denies (docs/design.md, steps G5–G9):
//
//   - the signals of one key that arrive while its count is in flight are
//     batched into its next write, one batch per key at a time;
//   - the one write is a merge patch of status.deduplication alone,
//     conditioned on the resourceVersion the request was read at (G5); a
//     Conflict reads the request again and writes again (G6);
//   - the request last counted on is remembered with that version, so that
//     a storm costs one write per batch and no reads (G7), and forgotten on
//     any failure;
//   - a write whose answer was lost, or that client-go sent again
//     (CountSends), is settled before its signals are answered (G8);
//   - no API call starts after a batch's deadline (G9).
//
// Which request a batch is counted on is the caller's to say (Find): the
// gateway's pipeline looks the fingerprint up and creates a request where
// none holds it; the webhook names the holder its denial named.
package counter

// Package rrindex keeps an informer-backed copy of RemediationRequests,
// indexed by fingerprint and stripped to what a decision reads, so that
// "which requests carry fingerprint F" is answered from memory: the
// gateway's lookup where the webhook guards (docs/design.md, G4), and the
// webhook's steps C2 and C4, whose every hit is confirmed by a direct Get.
package rrindex

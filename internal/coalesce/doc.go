// Package coalesce runs work in batches per key: for each key one batch runs
// at a time, and whatever is added for the key while it runs waits and forms
// the next batch. The gateway counts a fingerprint's signals this way, and
// the admission webhook decides a fingerprint's simultaneous admissions this
// way, so that a burst for one key costs a few rounds of API calls instead of
// one per item.
package coalesce

// Package golden compares what a test produced with a golden file kept
// beside the test, and rewrites the file instead when the test runs with
// -update (go test ./gateway/... -run Golden -update), so that a change to
// what users see shows up as a reviewable diff.
package golden

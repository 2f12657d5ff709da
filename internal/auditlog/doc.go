// Package auditlog builds the logger that audit lines go to: zap's JSON
// through zapr, named "audit", and never sampled.
//
// controller-runtime's zap logger (the one cmd/* build from the --zap-*
// flags) samples in production: of the lines with one message, only the
// first 100 each second are written and then one in a hundred. That is right
// for operational logs and wrong for an audit log, whose lines all share one
// message ("admission decision", "signal decision") and whose point is that
// there is one for every decision, above all in a burst.
package auditlog

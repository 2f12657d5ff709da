// Package command is the scaffolding rrguard's server binaries share:
// parse the flags into options, validate them, hand them to the binary's
// serve function, and exit with the status the outcome calls for. Each
// cmd/* keeps only its flags and its wiring.
package command

// Package test holds no code of its own: its folders are the rigs the tests
// and the benchmarks run rrguard on (testenv, webhooktest, gatewaytest,
// load, baseline, golden, devenv, reference) and the system tests (e2e,
// faults, kubernaut). Its own tests hold the layout (no library imports a
// rig, internal/ sits beneath every library, no function is over 60 lines)
// and docs/design.md's step table to the code.
package test

// Package test holds no code of its own: its folders are the rigs the tests
// and the benchmarks run rrguard on (testenv, webhooktest, gatewaytest,
// load, baseline, golden, devenv) and the system tests (e2e, faults). Its
// one test holds the layout: no library imports a rig, and internal/ sits
// beneath every library.
package test

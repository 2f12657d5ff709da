// Package target names the object a signal is about: it reads the API
// server (metadata-only where it can) to climb a Pod to the controller a
// remediation must act on. Package signal only parses.
package target

// Package reference holds docs/reference.md to the binaries: it reads the
// flags a binary binds and the metrics it registers, reads the tables of the
// binary's section of the reference, and names every flag or metric that is
// missing there, described wrongly, or documented without existing. The
// binaries' tests (cmd/webhook, cmd/gateway) run it on their real flag sets
// and registries.
package reference

// Package scope decides whether a signal's target is in kubernaut's
// management scope, by kubernaut's opt-in label kubernaut.ai/managed: the
// target's own label when it carries "true" or "false", else, for a
// namespaced target, its namespace's; anything else is out of scope. The
// gateway asks it, when --require-managed-label is set, after the target is
// resolved to its top-level controller and before anything is counted.
package scope

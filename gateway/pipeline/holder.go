package pipeline

import (
	"context"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// HolderCounter counts signals on a request someone else named: the
// admission webhook's count of a create it denied, on the holder its
// denial named, for a creator that counts nothing itself. It is the
// gateway's own counting — the signals of one request batched into one
// status write conditioned on the resourceVersion read, a conflict read
// again and written again, a write whose answer was lost settled (G5–G8 of
// docs/design.md) — without the lookup and the create: the request is
// given, and is counted on whatever its phase since the decision.
type HolderCounter struct{ p *Pipeline }

// NewHolderCounter returns a HolderCounter that reads through reader (the
// API server directly, never a cache) and writes and watches through c.
// Options.Namespace, Targets, WebhookGuarded and Index are unused.
func NewHolderCounter(reader client.Reader, c Client, opts Options) *HolderCounter {
	p := newPipelineState(reader, c, opts)
	p.countRun = p.countHeld
	return &HolderCounter{p: p}
}

// Count counts one signal on the request key and says where, with the
// request's count including the signal. ctx's deadline is the signal's,
// as Submit's; a request that does not exist counts nothing.
func (h *HolderCounter) Count(ctx context.Context, key types.NamespacedName) (Result, error) {
	now := time.Now()
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = now.Add(h.p.opts.DefaultTimeout)
	}
	return h.p.await(key.String(), &pendingSignal{arrived: now, deadline: deadline, done: make(chan outcome, 1)})
}

// countHeld counts r's batch on the request r's key names ("ns/name").
func (p *Pipeline) countHeld(r *run) (counted, error) {
	ns, name, _ := strings.Cut(r.fp, "/")
	key := types.NamespacedName{Namespace: ns, Name: name}
	rr := p.lastCounted(r.fp, time.Now())
	if rr == nil {
		var err error
		if rr, err = p.get(r, key); err != nil {
			return counted{}, err
		}
		if rr == nil {
			return counted{}, fmt.Errorf("%w: %s does not exist", ErrUnavailable, key)
		}
	}
	// As for a request the batch created: counted on whatever happens to
	// it, since it is the one the signal's answer named.
	c, err := p.land(r, rr, true)
	if err != nil {
		// As count: the next batch starts from a read.
		p.forget(r.fp)
	}
	c.created = false
	return c, err
}

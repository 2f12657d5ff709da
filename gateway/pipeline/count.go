package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/dedup"
	"github.com/rrguard/rrguard/gateway/signal"
)

// run is one batch on its way to being counted.
type run struct {
	fp    string
	first *pendingSignal
	n     int64
	// deadline is the earliest of the batch's deadlines: no API call
	// starts after it.
	deadline time.Time
	// lastErr is why the latest attempt did not count the batch, for the
	// deadline's error.
	lastErr error
	// read holds the requests this run read from the API server after a
	// conflict: newer than what the index may still hold of them.
	read map[types.UID]*v1alpha1.RemediationRequest
}

func newRun(fp string, batch []*pendingSignal) *run {
	r := &run{fp: fp, first: batch[0], n: int64(len(batch)), deadline: batch[0].deadline}
	for _, w := range batch[1:] {
		if w.deadline.Before(r.deadline) {
			r.deadline = w.deadline
		}
	}
	return r
}

// expired returns ErrDeadline, wrapped with why the batch is not counted
// yet, once the deadline has passed.
func (r *run) expired() error {
	if time.Now().Before(r.deadline) {
		return nil
	}
	if r.lastErr != nil {
		return fmt.Errorf("%w: %w", ErrDeadline, r.lastErr)
	}
	return ErrDeadline
}

// counted is where a batch landed: on rr, whose count was base before.
type counted struct {
	rr      types.NamespacedName
	base    int64
	created bool
}

// errLookAgain: the request the batch was to be counted on no longer holds
// its fingerprint; find the one that does.
var errLookAgain = errors.New("the request no longer holds the fingerprint")

// count adds r's batch to the request that holds its fingerprint for the
// gateway (dedup.Suppresses), creating one if there is none. It returns once
// the count has landed, or with an error when it did not.
func (p *Pipeline) count(r *run) (counted, error) {
	if m := p.opts.Metrics; m != nil {
		m.Batches.Observe(float64(r.n))
	}
	// rr is the request to count on, as last read; nil means look it up.
	rr := p.lastCounted(r.fp, time.Now())
	for {
		created := false
		if rr == nil {
			var err error
			if rr, created, err = p.target(r); err != nil {
				return counted{}, err
			}
			if rr == nil {
				continue
			}
		}
		c, err := p.land(r, rr, created)
		if !errors.Is(err, errLookAgain) {
			if err != nil {
				// Whatever failed, the next batch starts from a read: a
				// request remembered at a version that can no longer be
				// written or watched would fail every batch after this one.
				p.forget(r.fp)
			}
			return c, err
		}
		p.forget(r.fp)
		rr = nil
	}
}

// target finds the request to count r's batch on, or creates one. Nil
// without an error asks for a new lookup: the webhook denied the create
// and the holder it named had ended, or its claim was still in flight.
func (p *Pipeline) target(r *run) (rr *v1alpha1.RemediationRequest, created bool, err error) {
	holder, err := p.lookup(r)
	if err != nil || holder != nil {
		return holder, false, err
	}
	return p.create(r)
}

// lookup returns the request that holds r's fingerprint for the gateway, or
// nil when a new one may be created. Where the webhook guards, the index
// answers without an API request (Options.WebhookGuarded says why that is
// safe); elsewhere the claim and, without one, the List, on the API server.
func (p *Pipeline) lookup(r *run) (*v1alpha1.RemediationRequest, error) {
	if p.opts.WebhookGuarded {
		// Not an API call: the index waits only for its first sync, and
		// the deadline bounds that.
		ctx, cancel := context.WithDeadline(context.Background(), r.deadline)
		defer cancel()
		list := &v1alpha1.RemediationRequestList{}
		err := p.opts.Index.List(ctx, list, client.InNamespace(p.opts.Namespace), client.MatchingFields{v1alpha1.FingerprintField: r.fp})
		if err != nil {
			return nil, passDeadline(err, "look up fingerprint "+r.fp+" in the index")
		}
		for i, rr := range list.Items {
			if newer, ok := r.read[rr.UID]; ok {
				list.Items[i] = *newer
			}
		}
		return dedup.GatewayHolder(list.Items, time.Now()), nil
	}
	var res dedup.Resolution
	err := p.call(r, func(ctx context.Context) error {
		var err error
		res, err = p.resolver.ResolveForGateway(ctx, p.opts.Namespace, r.fp, time.Now())
		return err
	})
	if err != nil {
		return nil, passDeadline(err, "look up fingerprint "+r.fp)
	}
	if !res.Suppresses(time.Now()) {
		return nil, nil
	}
	return res.Holder, nil
}

// create creates a request for r's batch. A webhook denial comes back as
// the holder it named, to count on instead, or as nil after a pause, for a
// new lookup.
func (p *Pipeline) create(r *run) (*v1alpha1.RemediationRequest, bool, error) {
	rr := signal.NewRemediationRequest(p.opts.Namespace, r.fp, r.first.sig, r.first.arrived)
	err := p.call(r, func(ctx context.Context) error { return p.client.Create(ctx, rr) })
	if err == nil {
		return rr, true, nil
	}
	d, ok := dedup.DenialFromError(err)
	if !ok {
		// A create whose answer was lost needs no settling: the request
		// it made holds the fingerprint with nothing counted on it, and
		// the resent signal is counted there.
		return nil, false, passDeadline(err, "create remediationrequest")
	}
	r.lastErr = err
	if d.Reason != dedup.ReasonDuplicate {
		wait := d.RetryAfter
		if wait <= 0 || wait > p.opts.RetryBackoff {
			wait = p.opts.RetryBackoff
		}
		p.sleep(wait)
		return nil, false, nil
	}
	holder, err := p.get(r, types.NamespacedName{Namespace: p.opts.Namespace, Name: d.Holder})
	if err != nil {
		return nil, false, err
	}
	if holder != nil && dedup.Suppresses(holder, time.Now()) {
		return holder, false, nil
	}
	// The holder ended or went between the webhook's decision and this
	// read: look again.
	p.sleep(p.jitter(1))
	return nil, false, nil
}

// land counts r's batch on rr: one status write conditioned on the
// resourceVersion rr was read at, and after a conflict, the same with rr
// read again. A request created for the batch keeps it whatever happens to
// it meanwhile; any other must still hold the fingerprint when read again,
// or land returns errLookAgain.
func (p *Pipeline) land(r *run, rr *v1alpha1.RemediationRequest, created bool) (counted, error) {
	for attempt := 0; ; attempt++ {
		w := newCountWrite(rr, r.n, r.first.arrived)
		stored, fresh, err := p.put(r, w)
		if err != nil {
			return counted{}, err
		}
		if stored != nil {
			if dedup.Suppresses(stored, time.Now()) {
				p.remember(r.fp, stored)
			} else {
				p.forget(r.fp)
			}
			return counted{rr: client.ObjectKeyFromObject(stored), base: w.base(), created: created}, nil
		}
		switch {
		case fresh == nil && created:
			// Deleted right after its creation: nothing to count on,
			// and nothing counted. The sender retries.
			return counted{}, fmt.Errorf("%w: created %s/%s was deleted before its first count", ErrUnavailable, rr.Namespace, rr.Name)
		case fresh == nil:
			return counted{}, errLookAgain
		}
		if m := p.opts.Metrics; m != nil {
			m.Conflicts.Inc()
		}
		if r.read == nil {
			r.read = map[types.UID]*v1alpha1.RemediationRequest{}
		}
		r.read[fresh.UID] = fresh
		if !created && !dedup.Suppresses(fresh, time.Now()) {
			return counted{}, errLookAgain
		}
		rr = fresh
		if attempt > 0 {
			p.sleep(p.jitter(attempt))
		}
	}
}

// passDeadline returns err as it is when it is the deadline's, and
// classified otherwise.
func passDeadline(err error, op string) error {
	if errors.Is(err, ErrDeadline) {
		return err
	}
	return classify(op, err)
}

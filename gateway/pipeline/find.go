package pipeline

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/counter"
	"github.com/rrguard/rrguard/dedup"
	"github.com/rrguard/rrguard/gateway/signal"
)

// batch is one fingerprint's signals on their way to being counted.
type batch = counter.Batch[*signal.Signal]

// find names the request to count b on: the one that holds its
// fingerprint for the gateway (dedup.Suppresses), or one it creates. The
// zero Target asks for a new lookup: the webhook denied the create and the
// holder it named had ended, or its claim was still in flight.
func (p *Pipeline) find(b *batch) (counter.Target, error) {
	holder, err := p.lookup(b)
	if err != nil || holder != nil {
		return counter.Target{RR: holder}, err
	}
	return p.create(b)
}

// lookup returns the request that holds b's fingerprint for the gateway,
// or nil when a new one may be created (step G4). Where the webhook
// guards, the index answers without an API request (Options.WebhookGuarded
// says why that is safe); elsewhere the claim and, without one, the List,
// on the API server.
func (p *Pipeline) lookup(b *batch) (*v1alpha1.RemediationRequest, error) {
	if p.opts.WebhookGuarded {
		// Not an API call: the index waits only for its first sync, and
		// the deadline bounds that.
		ctx, cancel := context.WithDeadline(context.Background(), b.Deadline())
		defer cancel()
		list := &v1alpha1.RemediationRequestList{}
		err := p.opts.Index.List(ctx, list, client.InNamespace(p.opts.Namespace), client.MatchingFields{v1alpha1.FingerprintField: b.Key()})
		if err != nil {
			return nil, counter.Classify("look up fingerprint "+b.Key()+" in the index", err)
		}
		for i := range list.Items {
			list.Items[i] = *b.Latest(&list.Items[i])
		}
		return dedup.GatewayHolder(list.Items, time.Now()), nil
	}
	var res dedup.Resolution
	err := b.Call(func(ctx context.Context) error {
		var err error
		res, err = p.resolver.ResolveForGateway(ctx, p.opts.Namespace, b.Key(), time.Now())
		return err
	})
	if err != nil {
		return nil, counter.Classify("look up fingerprint "+b.Key(), err)
	}
	if !res.Suppresses(time.Now()) {
		return nil, nil
	}
	return res.Holder, nil
}

// create creates a request for b. A webhook denial comes back as the
// holder it named, to count on instead, or as the zero Target after a
// pause, for a new lookup.
func (p *Pipeline) create(b *batch) (counter.Target, error) {
	rr := signal.NewRemediationRequest(p.opts.Namespace, b.Key(), b.First(), b.Arrived())
	err := b.Call(func(ctx context.Context) error { return p.client.Create(ctx, rr) })
	if err == nil {
		return counter.Target{RR: rr, Created: true}, nil
	}
	d, ok := dedup.DenialFromError(err)
	if !ok {
		// A create whose answer was lost needs no settling: the request
		// it made holds the fingerprint with nothing counted on it, and
		// the resent signal is counted there.
		return counter.Target{}, counter.Classify("create remediationrequest", err)
	}
	b.Retrying(err)
	if d.Reason != dedup.ReasonDuplicate {
		b.Backoff(d.RetryAfter)
		return counter.Target{}, nil
	}
	holder, err := b.Get(types.NamespacedName{Namespace: p.opts.Namespace, Name: d.Holder})
	if err != nil {
		return counter.Target{}, err
	}
	if holder != nil && dedup.Suppresses(holder, time.Now()) {
		return counter.Target{RR: holder}, nil
	}
	// The holder ended or went between the webhook's decision and this
	// read: look again.
	b.Jitter()
	return counter.Target{}, nil
}

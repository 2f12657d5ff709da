package testenv

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/rest"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
)

// OnceClient writes RemediationRequests making each request once: client-go
// retries a 429 with Retry-After by itself, and a test of admission must see
// each answer as it was given.
type OnceClient struct{ rest rest.Interface }

// OnceClient returns a OnceClient of e's API server; adjust, if given,
// changes its config first (a warning handler, say).
func (e *Env) OnceClient(adjust ...func(*rest.Config)) (*OnceClient, error) {
	cfg := rest.CopyConfig(e.Config)
	for _, a := range adjust {
		a(cfg)
	}
	cfg.GroupVersion = &v1alpha1.GroupVersion
	cfg.APIPath = "/apis"
	cfg.NegotiatedSerializer = serializer.NewCodecFactory(e.Scheme).WithoutConversion()
	c, err := rest.RESTClientFor(cfg)
	if err != nil {
		return nil, err
	}
	return &OnceClient{rest: c}, nil
}

// Create creates rr, as a dry run when dryRun, and reads the answer into rr.
func (c *OnceClient) Create(ctx context.Context, rr *v1alpha1.RemediationRequest, dryRun bool) error {
	req := c.rest.Post().Namespace(rr.Namespace).Resource(v1alpha1.Resource).Body(rr).MaxRetries(0)
	if dryRun {
		req = req.Param("dryRun", metav1.DryRunAll)
	}
	return req.Do(ctx).Into(rr)
}

// UpdateStatus writes rr's status and reads the answer into rr.
func (c *OnceClient) UpdateStatus(ctx context.Context, rr *v1alpha1.RemediationRequest) error {
	return c.rest.Put().Namespace(rr.Namespace).Resource(v1alpha1.Resource).Name(rr.Name).
		SubResource("status").Body(rr).MaxRetries(0).Do(ctx).Into(rr)
}

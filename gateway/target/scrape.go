package target

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rrguard/rrguard/dedup"
)

// scrapeTarget is the subject of an alert whose labels name nothing once
// the scrape target's are set aside, taken from the scrape target itself:
// the node a node agent measures (an instance that names a Node, the
// kubelet's endpoint on a Node, an exporter Pod serving its node's own
// address), else the exporter's Pod, else its Service. Failing all of
// these the alert has no subject and keeps its namespace as its scope.
func (r *Resolver) scrapeTarget(ctx context.Context, labels map[string]string, exp exporterEndpoint, ns string, why []string) (choice, error) {
	if node, reason, err := r.measuredNode(ctx, labels, exp); err != nil || node != nil {
		return choice{subject: node, why: append(why, reason)}, err
	}
	if exp.found && exp.target.Kind == "Pod" {
		pod, err := r.builtin("Pod", exp.namespace, exp.target.Name)
		if err != nil || pod == nil {
			return choice{}, err
		}
		return choice{subject: pod, why: append(why, fmt.Sprintf("only the scrape target names an object: the exporter's %s", pod))}, nil
	}
	if service, svcNS := labels["service"], labels["namespace"]; service != "" && svcNS != "" &&
		len(dedup.ValidateName(service)) == 0 && len(dedup.ValidateNamespace(svcNS)) == 0 {
		svc, err := r.builtin("Service", svcNS, service)
		if err != nil || svc == nil {
			return choice{}, err
		}
		return choice{subject: svc, why: append(why, fmt.Sprintf("only the scrape target names an object: %s", svc))}, nil
	}
	return choice{scope: ns, why: why}, nil
}

// builtin is the core kind's object; nil when discovery does not serve
// the kind.
func (r *Resolver) builtin(kind, ns, name string) (*object, error) {
	k, ok, err := r.kinds.ForReference("v1", kind)
	if err != nil || !ok {
		return nil, err
	}
	return newObject(k, ns, name), nil
}

// measuredNode is the Node a node agent's series measure, and why; nil
// when the scrape target is not one.
func (r *Resolver) measuredNode(ctx context.Context, labels map[string]string, exp exporterEndpoint) (*object, string, error) {
	if host, _, _ := splitInstance(labels["instance"]); host != "" && len(dedup.ValidateName(host)) == 0 {
		node, err := r.builtin("Node", "", host)
		if err != nil || node == nil {
			return nil, "", err
		}
		if err := r.read(ctx, node); err != nil {
			return nil, "", err
		}
		if node.meta != nil {
			return node, fmt.Sprintf("instance=%s names %s: the exporter measures its node", host, node), nil
		}
	}
	if !exp.found {
		return nil, "", nil
	}
	switch {
	case exp.target.Kind == "Node":
		node, err := r.builtin("Node", "", exp.target.Name)
		return node, fmt.Sprintf("the series were scraped from the endpoint of Node %s", exp.target.Name), err
	case exp.target.Kind == "Pod" && exp.nodeName != "":
		shares, err := r.nodeHasAddress(ctx, exp.nodeName, exp.address)
		if err != nil || !shares {
			return nil, "", err
		}
		node, err := r.builtin("Node", "", exp.nodeName)
		return node, fmt.Sprintf("the exporter Pod %s/%s serves its node's own address %s: it measures Node %s",
			exp.namespace, exp.target.Name, exp.address, exp.nodeName), err
	}
	return nil, "", nil
}

// nodeHasAddress reports whether the Node named node has address among
// its addresses: a Pod on the host's network serves on it.
func (r *Resolver) nodeHasAddress(ctx context.Context, node, address string) (bool, error) {
	addrs, err := remember(r, "node-addresses/"+node, func() ([]string, error) {
		var n corev1.Node
		if err := r.reader.Get(ctx, client.ObjectKey{Name: node}, &n); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, nil
			}
			return nil, fmt.Errorf("get node %s: %w", node, err)
		}
		var out []string
		for _, a := range n.Status.Addresses {
			out = append(out, a.Address)
		}
		return out, nil
	})
	if err != nil {
		return false, err
	}
	for _, a := range addrs {
		if a == address {
			return true, nil
		}
	}
	return false, nil
}

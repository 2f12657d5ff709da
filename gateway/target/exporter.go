package target

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rrguard/rrguard/dedup"
)

// exporterEndpoint is the EndpointSlice endpoint an alert's series were
// scraped from, as Prometheus' Kubernetes service discovery found it: the
// source of the job, instance, service, endpoint, pod and namespace
// labels it set.
type exporterEndpoint struct {
	found bool
	// namespace is the EndpointSlice's.
	namespace string
	// target is the endpoint's targetRef: a Pod, or a Node for the
	// kubelet's endpoints.
	target corev1.ObjectReference
	// nodeName is the node the endpoint is on.
	nodeName string
	// address is the endpoint's address the series came from.
	address string
}

// isPod reports whether the exporter is the Pod named name.
func (e exporterEndpoint) isPod(name string) bool {
	return e.found && e.target.Kind == "Pod" && e.target.Name == name
}

// exporter finds the endpoint an alert's series were scraped from: among
// the EndpointSlices of its service label's Service (in any namespace: a
// kube-state-metrics series keeps its own namespace label), the endpoint
// of its pod label or, failing that, the one serving its instance address;
// without a service label, the endpoint serving the instance address in
// the namespace label's namespace. An alert that says too little has no
// exporter endpoint.
func (r *Resolver) exporter(ctx context.Context, labels map[string]string) (exporterEndpoint, error) {
	service, pod, ns := labels["service"], labels["pod"], labels["namespace"]
	host, port, hasPort := splitInstance(labels["instance"])
	var opts []client.ListOption
	key := "slices/"
	switch {
	case service != "" && len(dedup.ValidateName(service)) == 0:
		opts = append(opts, client.MatchingLabels{discoveryv1.LabelServiceName: service})
		key += "service/" + service
	case ns != "" && hasPort && len(dedup.ValidateNamespace(ns)) == 0:
		opts = append(opts, client.InNamespace(ns))
		key += "namespace/" + ns
		service = ""
	default:
		return exporterEndpoint{}, nil
	}
	list, err := remember(r, key, func() ([]discoveryv1.EndpointSlice, error) {
		var l discoveryv1.EndpointSliceList
		if err := r.reader.List(ctx, &l, opts...); err != nil {
			return nil, fmt.Errorf("list endpointslices (%s): %w", key, err)
		}
		return l.Items, nil
	})
	if err != nil {
		return exporterEndpoint{}, err
	}
	if service != "" && pod != "" {
		if e, ok := findEndpoint(list, func(ep *discoveryv1.Endpoint, _ *discoveryv1.EndpointSlice) bool {
			return ep.TargetRef != nil && ep.TargetRef.Kind == "Pod" && ep.TargetRef.Name == pod
		}); ok {
			return e, nil
		}
	}
	if !hasPort {
		return exporterEndpoint{}, nil
	}
	e, _ := findEndpoint(list, func(ep *discoveryv1.Endpoint, s *discoveryv1.EndpointSlice) bool {
		return slices.Contains(ep.Addresses, host) && servesPort(s, port)
	})
	return e, nil
}

// findEndpoint returns the first endpoint of list that match accepts.
func findEndpoint(list []discoveryv1.EndpointSlice, match func(*discoveryv1.Endpoint, *discoveryv1.EndpointSlice) bool) (exporterEndpoint, bool) {
	for i := range list {
		s := &list[i]
		for j := range s.Endpoints {
			ep := &s.Endpoints[j]
			if !match(ep, s) {
				continue
			}
			e := exporterEndpoint{found: true, namespace: s.Namespace}
			if ep.TargetRef != nil {
				e.target = *ep.TargetRef
			}
			if ep.NodeName != nil {
				e.nodeName = *ep.NodeName
			}
			if len(ep.Addresses) > 0 {
				e.address = ep.Addresses[0]
			}
			return e, true
		}
	}
	return exporterEndpoint{}, false
}

func servesPort(s *discoveryv1.EndpointSlice, port int32) bool {
	for _, p := range s.Ports {
		if p.Port != nil && *p.Port == port {
			return true
		}
	}
	return false
}

// splitInstance splits an instance label host:port; hasPort is false for
// an instance without one (kube-prometheus relabels node-exporter's
// instance to its node's name).
func splitInstance(instance string) (host string, port int32, hasPort bool) {
	h, p, err := net.SplitHostPort(instance)
	if err != nil {
		return instance, 0, false
	}
	n, err := strconv.ParseInt(p, 10, 32)
	if err != nil {
		return instance, 0, false
	}
	return h, int32(n), true
}

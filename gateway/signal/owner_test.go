package signal

import (
	"context"
	"errors"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
)

func controlledBy(kind, apiVersion, name string) []metav1.OwnerReference {
	return []metav1.OwnerReference{{Kind: kind, APIVersion: apiVersion, Name: name, UID: types.UID("uid-" + name), Controller: ptr.To(true)}}
}

// The climb's logic on a fake client; the real API server's metadata reads
// are exercised by the gateway's integration tests.
func TestOwnerResolverClimbsToTheWorkloadController(t *testing.T) {
	meta := func(name string, owners []metav1.OwnerReference) metav1.ObjectMeta {
		return metav1.ObjectMeta{Namespace: "shop", Name: name, OwnerReferences: owners}
	}
	objs := []client.Object{
		&appsv1.Deployment{ObjectMeta: meta("web", controlledBy("Rollout", "example.io/v1", "web"))},
		&appsv1.ReplicaSet{ObjectMeta: meta("web-5d9f8", controlledBy("Deployment", "apps/v1", "web"))},
		&corev1.Pod{ObjectMeta: meta("web-5d9f8-x2x7q", controlledBy("ReplicaSet", "apps/v1", "web-5d9f8"))},
		&batchv1.CronJob{ObjectMeta: meta("backup", nil)},
		&batchv1.Job{ObjectMeta: meta("backup-28471", controlledBy("CronJob", "batch/v1", "backup"))},
		&corev1.Pod{ObjectMeta: meta("backup-28471-abcde", controlledBy("Job", "batch/v1", "backup-28471"))},
		&corev1.Pod{ObjectMeta: meta("db-0", controlledBy("StatefulSet", "apps/v1", "db"))},
		&corev1.Pod{ObjectMeta: meta("standalone", []metav1.OwnerReference{{Kind: "ReplicaSet", APIVersion: "apps/v1", Name: "not-controller", UID: "u"}})},
	}
	c := fake.NewClientBuilder().WithScheme(clientgoscheme.Scheme).WithObjects(objs...).Build()
	pod := func(name string) v1alpha1.ResourceIdentifier {
		return v1alpha1.ResourceIdentifier{Kind: "Pod", Name: name, Namespace: "shop", APIVersion: "v1"}
	}
	tests := map[string]struct {
		in, want v1alpha1.ResourceIdentifier
	}{
		"a Deployment's Pod climbs to the Deployment, not past it": {
			in: pod("web-5d9f8-x2x7q"), want: v1alpha1.ResourceIdentifier{Kind: "Deployment", Name: "web", Namespace: "shop", APIVersion: "apps/v1"},
		},
		"a CronJob's Pod climbs through its Job": {
			in: pod("backup-28471-abcde"), want: v1alpha1.ResourceIdentifier{Kind: "CronJob", Name: "backup", Namespace: "shop", APIVersion: "batch/v1"},
		},
		"a StatefulSet's Pod names the StatefulSet": {
			in: pod("db-0"), want: v1alpha1.ResourceIdentifier{Kind: "StatefulSet", Name: "db", Namespace: "shop", APIVersion: "apps/v1"},
		},
		"an owner that is not the controller is not climbed": {in: pod("standalone"), want: pod("standalone")},
		"a Pod that is gone stays the target":                {in: pod("deleted-1"), want: pod("deleted-1")},
		"a Pod reference without apiVersion still climbs": {
			in:   v1alpha1.ResourceIdentifier{Kind: "Pod", Name: "db-0", Namespace: "shop"},
			want: v1alpha1.ResourceIdentifier{Kind: "StatefulSet", Name: "db", Namespace: "shop", APIVersion: "apps/v1"},
		},
		"a Deployment is not climbed": {
			in:   v1alpha1.ResourceIdentifier{Kind: "Deployment", Name: "web", Namespace: "shop", APIVersion: "apps/v1"},
			want: v1alpha1.ResourceIdentifier{Kind: "Deployment", Name: "web", Namespace: "shop", APIVersion: "apps/v1"},
		},
		"a Node is not climbed": {
			in: v1alpha1.ResourceIdentifier{Kind: "Node", Name: "worker-1"}, want: v1alpha1.ResourceIdentifier{Kind: "Node", Name: "worker-1"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := NewOwnerResolver(c)
			got, err := r.Resolve(context.Background(), tc.in)
			if err != nil || got != tc.want {
				t.Errorf("Resolve(%+v) = %+v, %v; want %+v", tc.in, got, err, tc.want)
			}
		})
	}
}

type brokenReader struct{ client.Reader }

var errDown = errors.New("connection refused")

func (brokenReader) Get(context.Context, client.ObjectKey, client.Object, ...client.GetOption) error {
	return errDown
}

func TestOwnerResolverReportsAFailedRead(t *testing.T) {
	r := NewOwnerResolver(brokenReader{})
	_, err := r.Resolve(context.Background(), v1alpha1.ResourceIdentifier{Kind: "Pod", Name: "x", Namespace: "shop", APIVersion: "v1"})
	if !errors.Is(err, errDown) {
		t.Errorf("error = %v, want the read's error", err)
	}
}

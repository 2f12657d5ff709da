package target

import (
	"context"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	"github.com/rrguard/rrguard/test/testenv"
)

// The suite runs on one control plane, seeded once with a small cluster
// as kube-prometheus-stack monitors it (seed).
var env *testenv.Env

func TestMain(m *testing.M) {
	testenv.Run(testenv.Options{}, func(e *testenv.Env) int {
		env = e
		if err := seed(context.Background(), e.Client); err != nil {
			fmt.Println("seed:", err)
			return 1
		}
		return m.Run()
	})
}

// newTestResolver is a Resolver on the suite's API server, as the gateway
// wires it.
func newTestResolver(t testing.TB) *Resolver {
	t.Helper()
	dc, err := discovery.NewDiscoveryClientForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	return NewResolver(env.Client, NewKinds(dc))
}

// seeder creates objects, each owned by the one given.
type seeder struct {
	ctx context.Context
	c   client.Client
	err error
}

func (s *seeder) create(obj client.Object, owner client.Object) client.Object {
	if s.err != nil {
		return obj
	}
	if owner != nil {
		gvk, err := apiutil.GVKForObject(owner, s.c.Scheme())
		if err != nil {
			s.err = err
			return obj
		}
		obj.SetOwnerReferences([]metav1.OwnerReference{{
			APIVersion: gvk.GroupVersion().String(), Kind: gvk.Kind, Name: owner.GetName(), UID: owner.GetUID(),
			Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
		}})
	}
	if err := s.c.Create(s.ctx, obj); err != nil {
		s.err = fmt.Errorf("create %T %s: %w", obj, obj.GetName(), err)
	}
	return obj
}

func meta(ns, name string, labels map[string]string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels}
}

func podTemplate(labels map[string]string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: labels},
		Spec:       corev1.PodSpec{RestartPolicy: corev1.RestartPolicyAlways, Containers: []corev1.Container{{Name: "c", Image: "registry.k8s.io/pause:3.10"}}},
	}
}

// jobTemplate is a Pod template a Job accepts.
func jobTemplate(labels map[string]string) corev1.PodTemplateSpec {
	t := podTemplate(labels)
	t.Spec.RestartPolicy = corev1.RestartPolicyNever
	return t
}

func pod(ns, name string, labels map[string]string, node string) *corev1.Pod {
	t := podTemplate(labels)
	t.Spec.NodeName = node
	return &corev1.Pod{ObjectMeta: meta(ns, name, labels), Spec: t.Spec}
}

func deployment(ns, name string, labels map[string]string) *appsv1.Deployment {
	return &appsv1.Deployment{ObjectMeta: meta(ns, name, labels), Spec: appsv1.DeploymentSpec{
		Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: podTemplate(labels),
	}}
}

func replicaSet(ns, name, hash string, labels map[string]string) *appsv1.ReplicaSet {
	l := map[string]string{"pod-template-hash": hash}
	for k, v := range labels {
		l[k] = v
	}
	return &appsv1.ReplicaSet{ObjectMeta: meta(ns, name, l), Spec: appsv1.ReplicaSetSpec{
		Selector: &metav1.LabelSelector{MatchLabels: l}, Template: podTemplate(l),
	}}
}

func service(ns, name string, selector map[string]string, port int32) *corev1.Service {
	return &corev1.Service{ObjectMeta: meta(ns, name, nil), Spec: corev1.ServiceSpec{
		Selector: selector, Ports: []corev1.ServicePort{{Name: "http", Port: port}},
	}}
}

// endpoint is one endpoint of an EndpointSlice: its address, what it
// targets and the node it is on.
type endpoint struct {
	address, kind, ns, name, node string
}

func endpointSlice(ns, svc string, port int32, eps ...endpoint) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta:  meta(ns, svc+"-abc12", map[string]string{discoveryv1.LabelServiceName: svc}),
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("metrics"), Port: ptr.To(port)}},
	}
	for _, e := range eps {
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{
			Addresses: []string{e.address}, NodeName: ptr.To(e.node),
			TargetRef: &corev1.ObjectReference{Kind: e.kind, Namespace: e.ns, Name: e.name},
		})
	}
	return s
}

// The seeded objects' names.
const (
	ksm          = "kube-prometheus-stack-kube-state-metrics"
	ksmRS        = ksm + "-5d8f7c9b6"
	ksmPod       = ksmRS + "-x7k2p"
	nodeExporter = "kube-prometheus-stack-prometheus-node-exporter"
	kubeletSvc   = "kube-prometheus-stack-kubelet"
	webRS        = "web-7d9f8b6c5"
)

// nodeExporterPod is the node-exporter Pod on worker-i.
func nodeExporterPod(i int) string { return fmt.Sprintf("%s-%c%c8x2", nodeExporter, 'a'+i, 'k'+i) }

// seed creates the cluster the tests resolve against: three Nodes;
// kube-state-metrics, node-exporter and the kubelet endpoints as
// kube-prometheus-stack deploys them; a shop with a Deployment, its
// Service, a quota, an HPA, a CronJob's Job and a PVC; an operator's
// Database owning a StatefulSet; and the objects the captured payloads of
// package signal name.
func seed(ctx context.Context, c client.Client) error {
	s := &seeder{ctx: ctx, c: c}
	for _, ns := range []string{"monitoring", "shop", "data", "payments"} {
		s.create(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, nil)
	}
	seedNodes(s)
	seedMonitoring(s)
	seedShop(s)
	seedPayments(s)
	if s.err != nil {
		return s.err
	}
	return seedOperator(s)
}

func seedNodes(s *seeder) {
	for i := 1; i <= 3; i++ {
		n := s.create(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("worker-%d", i)}}, nil).(*corev1.Node)
		if s.err != nil {
			return
		}
		n.Status.Addresses = []corev1.NodeAddress{
			{Type: corev1.NodeInternalIP, Address: fmt.Sprintf("10.0.1.%d", i)},
			{Type: corev1.NodeHostName, Address: n.Name},
		}
		if err := s.c.Status().Update(s.ctx, n); err != nil {
			s.err = err
		}
	}
	s.create(&corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "pvc-5f0c2a"}, Spec: corev1.PersistentVolumeSpec{
		Capacity:               corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Gi")},
		AccessModes:            []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/data"}},
	}}, nil)
}

func seedMonitoring(s *seeder) {
	ksmLabels := map[string]string{"app.kubernetes.io/name": "kube-state-metrics"}
	d := s.create(deployment("monitoring", ksm, ksmLabels), nil)
	rs := s.create(replicaSet("monitoring", ksmRS, "5d8f7c9b6", ksmLabels), d)
	s.create(pod("monitoring", ksmPod, ksmLabels, "worker-1"), rs)
	s.create(service("monitoring", ksm, ksmLabels, 8080), nil)
	s.create(endpointSlice("monitoring", ksm, 8080, endpoint{"10.244.1.17", "Pod", "monitoring", ksmPod, "worker-1"}), nil)

	neLabels := map[string]string{"app.kubernetes.io/name": "prometheus-node-exporter"}
	ds := s.create(&appsv1.DaemonSet{ObjectMeta: meta("monitoring", nodeExporter, neLabels), Spec: appsv1.DaemonSetSpec{
		Selector: &metav1.LabelSelector{MatchLabels: neLabels}, Template: podTemplate(neLabels),
	}}, nil)
	var eps, kubelet []endpoint
	for i := 1; i <= 3; i++ {
		node, ip := fmt.Sprintf("worker-%d", i), fmt.Sprintf("10.0.1.%d", i)
		s.create(pod("monitoring", nodeExporterPod(i), neLabels, node), ds)
		// node-exporter runs on the host's network: its address is its
		// node's.
		eps = append(eps, endpoint{ip, "Pod", "monitoring", nodeExporterPod(i), node})
		kubelet = append(kubelet, endpoint{ip, "Node", "", node, node})
	}
	s.create(service("monitoring", nodeExporter, neLabels, 9100), nil)
	s.create(endpointSlice("monitoring", nodeExporter, 9100, eps...), nil)
	// The Prometheus Operator keeps the kubelet's Service, without a
	// selector, and its endpoints: the Nodes.
	s.create(service("kube-system", kubeletSvc, nil, 10250), nil)
	s.create(endpointSlice("kube-system", kubeletSvc, 10250, kubelet...), nil)
}

func seedShop(s *seeder) {
	web := map[string]string{"app": "web"}
	d := s.create(deployment("shop", "web", web), nil)
	rs := s.create(replicaSet("shop", webRS, "7d9f8b6c5", web), d)
	s.create(pod("shop", webRS+"-abcde", web, "worker-1"), rs)
	s.create(pod("shop", webRS+"-fghij", web, "worker-2"), rs)
	s.create(service("shop", "web", web, 8080), nil)
	s.create(endpointSlice("shop", "web", 8080,
		endpoint{"10.244.1.30", "Pod", "shop", webRS + "-abcde", "worker-1"},
		endpoint{"10.244.2.31", "Pod", "shop", webRS + "-fghij", "worker-2"}), nil)
	s.create(service("shop", "legacy-db", nil, 5432), nil)
	s.create(service("shop", "promo", map[string]string{"app": "promo"}, 8080), nil)
	s.create(&corev1.ResourceQuota{ObjectMeta: meta("shop", "compute-resources", nil), Spec: corev1.ResourceQuotaSpec{
		Hard: corev1.ResourceList{corev1.ResourceRequestsCPU: resource.MustParse("8")},
	}}, nil)
	s.create(&autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: meta("shop", "web", nil), Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
		ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"}, MaxReplicas: 4,
	}}, nil)
	backup := map[string]string{"app": "backup"}
	cj := s.create(&batchv1.CronJob{ObjectMeta: meta("shop", "backup", nil), Spec: batchv1.CronJobSpec{
		Schedule: "0 3 * * *", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: jobTemplate(backup)}},
	}}, nil)
	job := s.create(&batchv1.Job{ObjectMeta: meta("shop", "backup-29012345", nil), Spec: batchv1.JobSpec{Template: jobTemplate(backup)}}, cj)
	if s.err == nil {
		jobLabels := job.(*batchv1.Job).Spec.Template.Labels
		s.create(pod("shop", "backup-29012345-xkq2m", jobLabels, "worker-3"), job)
	}
	s.create(&corev1.PersistentVolumeClaim{ObjectMeta: meta("shop", "uploads", nil), Spec: corev1.PersistentVolumeClaimSpec{
		AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
	}}, nil)
}

// seedPayments creates what the captured payloads of package signal name.
func seedPayments(s *seeder) {
	api := map[string]string{"app": "api"}
	d := s.create(deployment("payments", "api", api), nil)
	rs := s.create(replicaSet("payments", "api-7c9f6d5b8", "7c9f6d5b8", api), d)
	s.create(pod("payments", "api-7c9f6d5b8-x2x7q", api, "worker-2"), rs)
	s.create(deployment("payments", "worker", map[string]string{"app": "worker"}), nil)
}

// databaseCRD is an operator's custom resource, a Database.
var databaseCRD = &apiextensionsv1.CustomResourceDefinition{
	ObjectMeta: metav1.ObjectMeta{Name: "databases.example.com"},
	Spec: apiextensionsv1.CustomResourceDefinitionSpec{
		Group: "example.com", Scope: apiextensionsv1.NamespaceScoped,
		Names: apiextensionsv1.CustomResourceDefinitionNames{Plural: "databases", Singular: "database", Kind: "Database", ListKind: "DatabaseList"},
		Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{
			Name: "v1", Served: true, Storage: true,
			Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
				Type: "object", XPreserveUnknownFields: ptr.To(true),
			}},
		}},
	},
}

// seedOperator installs the Database CRD and creates the Database orders,
// which owns the StatefulSet orders-db and its Pods.
func seedOperator(s *seeder) error {
	s.create(databaseCRD, nil)
	if s.err != nil {
		return s.err
	}
	err := wait.PollUntilContextTimeout(s.ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		db := &unstructured.Unstructured{}
		db.SetAPIVersion("example.com/v1")
		db.SetKind("Database")
		db.SetNamespace("data")
		db.SetName("orders")
		return s.c.Create(ctx, db) == nil, nil
	})
	if err != nil {
		return fmt.Errorf("create the Database: %w", err)
	}
	db := &unstructured.Unstructured{}
	db.SetAPIVersion("example.com/v1")
	db.SetKind("Database")
	if err := s.c.Get(s.ctx, client.ObjectKey{Namespace: "data", Name: "orders"}, db); err != nil {
		return err
	}
	labels := map[string]string{"app": "orders-db"}
	sts := s.create(&appsv1.StatefulSet{ObjectMeta: meta("data", "orders-db", labels), Spec: appsv1.StatefulSetSpec{
		Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: podTemplate(labels),
	}}, db)
	s.create(pod("data", "orders-db-0", labels, "worker-1"), sts)
	s.create(pod("data", "orders-db-1", labels, "worker-2"), sts)
	return s.err
}

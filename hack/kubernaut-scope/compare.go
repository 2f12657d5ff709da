//go:build ignore

// Command compare decides the management scope of the same targets, on the
// same objects, with rrguard's scope.Checker and with kubernaut's own
// scope.Manager, and prints where they agree. run.sh builds it beside a
// copy of kubernaut's pkg/shared/scope taken from a kubernaut source tree
// (package kscope); nothing of kubernaut's is in this repository. Both read
// through one controller-runtime fake client, which answers them alike.
package main

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/gateway/scope"
	"scopecmp/kscope"
)

func lbl(v string) map[string]string {
	if v == "" {
		return nil
	}
	return map[string]string{"kubernaut.ai/managed": v}
}

func main() {
	s := runtime.NewScheme()
	_ = corev1.AddToScheme(s)
	_ = appsv1.AddToScheme(s)
	objs := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "in", Labels: lbl("true")}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "out", Labels: lbl("false")}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "plain"}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "odd", Labels: lbl("yes")}},
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "plain", Name: "a", Labels: lbl("true")}},
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "in", Name: "b", Labels: lbl("false")}},
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "in", Name: "c"}},
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "out", Name: "d"}},
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "plain", Name: "e"}},
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "in", Name: "f", Labels: lbl("yes")}},
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "odd", Name: "g"}},
		&appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: "out", Name: "db", Labels: lbl("true")}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "in", Name: "p", Labels: lbl("false")}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "plain", Name: "svc", Labels: lbl("true")}},
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n-true", Labels: lbl("true")}},
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n-plain"}},
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n-false", Labels: lbl("false")}},
		&corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "pv", Labels: lbl("true")}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "plain", Name: "creds", Labels: lbl("true")}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "out", Name: "cm", Labels: lbl("true")}},
	}
	c := fake.NewClientBuilder().WithScheme(s).WithObjects(objs...).Build()
	k := kscope.NewManager(c)
	r := scope.Checker{Reader: c}
	targets := []v1alpha1.ResourceIdentifier{
		{Kind: "Deployment", Namespace: "plain", Name: "a"}, {Kind: "Deployment", Namespace: "in", Name: "b"},
		{Kind: "Deployment", Namespace: "in", Name: "c"}, {Kind: "Deployment", Namespace: "out", Name: "d"},
		{Kind: "Deployment", Namespace: "plain", Name: "e"}, {Kind: "Deployment", Namespace: "in", Name: "f"},
		{Kind: "Deployment", Namespace: "odd", Name: "g"}, {Kind: "Deployment", Namespace: "in", Name: "gone"},
		{Kind: "Deployment", Namespace: "nope", Name: "x"}, {Kind: "StatefulSet", Namespace: "out", Name: "db"},
		{Kind: "Pod", Namespace: "in", Name: "p"}, {Kind: "Service", Namespace: "plain", Name: "svc"},
		{Kind: "Database", Namespace: "in", Name: "orders"}, {Kind: "Database", Namespace: "plain", Name: "orders"},
		{Kind: "Node", Name: "n-true"}, {Kind: "Node", Name: "n-plain"}, {Kind: "Node", Name: "n-false"},
		{Kind: "Node", Namespace: "in", Name: "n-plain"}, {Kind: "PersistentVolume", Name: "pv"},
		{Kind: "Namespace", Name: "in"}, {Kind: "Namespace", Name: "plain"}, {Kind: "ClusterRole", Name: "admin"},
		{Kind: "Secret", Namespace: "plain", Name: "creds"}, {Kind: "ConfigMap", Namespace: "out", Name: "cm"},
		{Kind: "Secret", Namespace: "in", Name: "creds"},
	}
	agree := 0
	for _, t := range targets {
		km, kerr := k.IsManagedResource(context.Background(), kscope.ResourceIdentity{Kind: t.Kind, Namespace: t.Namespace, Name: t.Name})
		v, rerr := r.Check(context.Background(), "", t)
		same := km == v.Managed && (kerr == nil) == (rerr == nil)
		if same {
			agree++
		}
		fmt.Printf("%-5v %-40s kubernaut=%v(%v) rrguard=%v(%v) %s\n", same, t.Kind+" "+t.Namespace+"/"+t.Name, km, kerr, v.Managed, rerr, v.Reason)
	}
	fmt.Printf("%d of %d agree\n", agree, len(targets))
}

package testenv

import (
	"context"
	"encoding/json"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
)

// SetStatus sets the given status fields of the RemediationRequest ns/name
// as an orchestrator would, and nothing else: a JSON merge patch of the
// status subresource carrying only fields, so that every other status
// field, known to rrguard's types or not, stays as stored.
func SetStatus(ctx context.Context, c client.Client, ns, name string, fields map[string]any) error {
	body, err := json.Marshal(map[string]any{"status": fields})
	if err != nil {
		return err
	}
	rr := &v1alpha1.RemediationRequest{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	if err := c.Status().Patch(ctx, rr, client.RawPatch(types.MergePatchType, body)); err != nil {
		return fmt.Errorf("set status %v of %s/%s: %w", fields, ns, name, err)
	}
	return nil
}

// SetPhase sets status.overallPhase alone (SetStatus).
func SetPhase(ctx context.Context, c client.Client, ns, name string, phase v1alpha1.Phase) error {
	return SetStatus(ctx, c, ns, name, map[string]any{"overallPhase": phase})
}

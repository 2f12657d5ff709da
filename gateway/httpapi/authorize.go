package httpapi

import (
	"context"
	"fmt"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// authorize is the authorization half of Authenticate, once the token has
// named user: a SubjectAccessReview asks whether user may post to path, the
// endpoint's URL (a sender's Role grants it as a nonResourceURL), and the
// answer is cached for the user and path.
func (a *TokenReviewAuthenticator) authorize(ctx context.Context, user authenticationv1.UserInfo, path string) error {
	key := user.UID + "\x00" + user.Username + "\x00" + strings.Join(user.Groups, ",") + "\x00" + path
	if v, ok := a.grants.Get(key); ok {
		if v == nil {
			return nil
		}
		return v.(error)
	}
	extra := make(map[string]authorizationv1.ExtraValue, len(user.Extra))
	for k, v := range user.Extra {
		extra[k] = authorizationv1.ExtraValue(v)
	}
	review, err := a.access.Create(ctx, &authorizationv1.SubjectAccessReview{
		Spec: authorizationv1.SubjectAccessReviewSpec{
			User:                  user.Username,
			UID:                   user.UID,
			Groups:                user.Groups,
			Extra:                 extra,
			NonResourceAttributes: &authorizationv1.NonResourceAttributes{Path: path, Verb: "post"},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("create subjectaccessreview: %w", err)
	}
	if review.Status.Allowed {
		a.grants.Add(key, nil, a.opts.CacheTTL)
		return nil
	}
	if review.Status.EvaluationError != "" && review.Status.Reason == "" {
		// Not a decision: RBAC could not be evaluated. Retry later.
		return fmt.Errorf("subjectaccessreview for %s: %s", user.Username, review.Status.EvaluationError)
	}
	err = fmt.Errorf("%w: user %q may not post to %s", ErrForbidden, user.Username, path)
	if review.Status.Reason != "" {
		err = fmt.Errorf("%w: %s", err, review.Status.Reason)
	}
	a.grants.Add(key, err, a.opts.NegativeCacheTTL)
	return err
}

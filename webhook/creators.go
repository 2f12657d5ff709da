package webhook

import (
	"fmt"
	"slices"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/apiserver/pkg/authentication/serviceaccount"
)

// Creators selects, by who asks, the creators of RemediationRequests that
// take a denial with reason AlreadyExists as "the incident's request exists"
// and count nothing themselves: kubernaut's gateway and API frontend. Their
// duplicate creates are denied AlreadyExists and counted by the webhook on
// the holder the denial names (docs/design.md, section 10). rrguard's own
// gateway, which counts on the holder itself, must not be one of them. The
// zero value selects nobody.
//
// It is a flag.Value: entries separated by commas, each user:<name>,
// group:<name> or serviceaccount:<namespace>:<name>.
type Creators struct {
	Users  []string
	Groups []string
}

// KubernautCreators are kubernaut's gateway and API frontend as its chart
// installs them in namespace ns: their ServiceAccounts.
func KubernautCreators(ns string) Creators {
	return Creators{Users: []string{
		serviceaccount.MakeUsername(ns, "gateway"),
		serviceaccount.MakeUsername(ns, "apifrontend"),
	}}
}

// Match reports whether u is one of the creators.
func (c Creators) Match(u authenticationv1.UserInfo) bool {
	if slices.Contains(c.Users, u.Username) {
		return true
	}
	return slices.ContainsFunc(u.Groups, func(g string) bool { return slices.Contains(c.Groups, g) })
}

// Empty reports whether c selects nobody.
func (c Creators) Empty() bool { return len(c.Users) == 0 && len(c.Groups) == 0 }

// String lists c's entries as Set takes them.
func (c *Creators) String() string {
	if c == nil {
		return ""
	}
	var out []string
	for _, u := range c.Users {
		if ns, name, err := serviceaccount.SplitUsername(u); err == nil {
			out = append(out, "serviceaccount:"+ns+":"+name)
			continue
		}
		out = append(out, "user:"+u)
	}
	for _, g := range c.Groups {
		out = append(out, "group:"+g)
	}
	return strings.Join(out, ",")
}

// Set adds the comma-separated entries of s.
func (c *Creators) Set(s string) error {
	for _, e := range strings.Split(s, ",") {
		if e = strings.TrimSpace(e); e == "" {
			continue
		}
		kind, name, _ := strings.Cut(e, ":")
		switch {
		case name == "":
			return fmt.Errorf("creator %q: want user:<name>, group:<name> or serviceaccount:<namespace>:<name>", e)
		case kind == "user":
			c.Users = append(c.Users, name)
		case kind == "group":
			c.Groups = append(c.Groups, name)
		case kind == "serviceaccount":
			ns, sa, ok := strings.Cut(name, ":")
			if !ok || ns == "" || sa == "" {
				return fmt.Errorf("creator %q: want serviceaccount:<namespace>:<name>", e)
			}
			c.Users = append(c.Users, serviceaccount.MakeUsername(ns, sa))
		default:
			return fmt.Errorf("creator %q: unknown kind %q; want user, group or serviceaccount", e, kind)
		}
	}
	return nil
}

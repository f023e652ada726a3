package alert

import (
	"net/url"
	"strings"
)

// secretSegment is the length from which a path segment of a webhook URL
// is taken for a token and hidden: Slack, Discord, Teams and most chat
// webhooks carry theirs in the path.
const secretSegment = 16

// redactURL returns raw fit for logs and errors: the user and password
// replaced by "redacted", every query value too, path segments of
// secretSegment characters or more and the fragment as well. Scheme,
// host, port and the short path segments stay, enough to tell webhooks
// apart.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(an unparsable URL)"
	}
	if u.User != nil {
		u.User = url.User("redacted")
	}
	if u.RawQuery != "" {
		q, err := url.ParseQuery(u.RawQuery)
		if err != nil {
			u.RawQuery = "redacted"
		} else {
			for k := range q {
				q[k] = []string{"redacted"}
			}
			u.RawQuery = q.Encode()
		}
	}
	segs := strings.Split(u.Path, "/")
	for i, s := range segs {
		if len(s) >= secretSegment {
			segs[i] = "redacted"
		}
	}
	u.Path, u.RawPath = strings.Join(segs, "/"), ""
	if u.Opaque != "" {
		u.Opaque = "redacted"
	}
	u.Fragment, u.RawFragment = "", ""
	return u.String()
}

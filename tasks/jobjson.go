package tasks

import (
	"encoding/json"
	"net/url"
)

// MarshalJSON writes the job as clients see it: its source and callback
// URLs without their query and fragment, which often carry secrets (a
// presigned URL's signature, a receiver's token) that the record keeps for
// the worker and the webhook, not for display or logs. Go code reading the
// store gets the whole URLs.
func (j Job) MarshalJSON() ([]byte, error) {
	type plain Job // without this method
	p := plain(j)
	p.SourceURL, p.CallbackURL = withoutQuery(p.SourceURL), withoutQuery(p.CallbackURL)
	return json.Marshal(p)
}

// withoutQuery returns raw with its query and fragment replaced by a
// marker, and without user info.
func withoutQuery(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "[unparsable URL]"
	}
	hidden := u.RawQuery != "" || u.Fragment != ""
	u.User, u.RawQuery, u.Fragment, u.RawFragment = nil, "", "", ""
	if hidden {
		return u.String() + "?REDACTED"
	}
	return u.String()
}

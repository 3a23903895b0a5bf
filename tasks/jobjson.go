package tasks

import (
	"encoding/json"
	"net/url"
)

// The markers that stand in for what PublicURL removes.
const (
	// RedactedQuery replaces a URL's query string: tokens and presigned
	// signatures travel there.
	RedactedQuery = "REDACTED"
	// UnparsableURL replaces a URL that does not parse: nothing of it is
	// known to be safe to show.
	UnparsableURL = "[unparsable URL]"
)

// MarshalJSON writes the job as clients see it: its source and callback
// URLs through PublicURL, since their queries often carry secrets (a
// presigned URL's signature, a receiver's token) that the record keeps for
// the worker and the webhook, not for display or logs. Go code reading the
// store gets the whole URLs.
func (j Job) MarshalJSON() ([]byte, error) {
	type plain Job // without this method
	p := plain(j)
	p.SourceURL, p.CallbackURL = PublicURL(p.SourceURL), PublicURL(p.CallbackURL)
	return json.Marshal(p)
}

// PublicURL returns raw without user info and fragment and with its query
// string, if any, replaced by "?REDACTED"; UnparsableURL if it does not
// parse, "" for "".
func PublicURL(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		return UnparsableURL
	}
	return StripURL(u)
}

// StripURL is PublicURL for a parsed URL, which it changes.
func StripURL(u *url.URL) string {
	u.User = nil
	u.Fragment, u.RawFragment = "", ""
	if u.RawQuery != "" || u.ForceQuery {
		u.RawQuery, u.ForceQuery = RedactedQuery, false
	}
	return u.String()
}

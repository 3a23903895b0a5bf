package tasks

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
)

// tenantPattern is what a tenant name may be: short, lower case, safe in a
// Redis key, a file name, a metric label and a URL query.
var tenantPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// ValidTenant reports whether name may name a tenant.
func ValidTenant(name string) bool { return tenantPattern.MatchString(name) }

// KeyEntry is one entry of auth.keys: the SHA-256 of an API key, the
// tenant the key acts for, and whether it is an admin key, which sees every
// tenant's objects.
type KeyEntry struct {
	// Hash is the key's SHA-256, 64 lower-case hex digits.
	Hash   string
	Tenant string
	Admin  bool
}

// ParseKeyEntry parses an auth.keys entry: "<sha256>" (the key is a tenant
// of its own, named "key-" and the first 12 digits of the hash),
// "<sha256>:<tenant>" or "<sha256>:<tenant>:admin".
func ParseKeyEntry(s string) (KeyEntry, error) {
	parts := strings.Split(strings.TrimSpace(s), ":")
	hash := strings.ToLower(parts[0])
	if b, err := hex.DecodeString(hash); err != nil || len(b) != sha256.Size {
		return KeyEntry{}, fmt.Errorf("%q: want the key's SHA-256 (64 hex digits; `mmq keys create` prints one), then :<tenant> and :admin if any", abbreviate(s))
	}
	e := KeyEntry{Hash: hash, Tenant: "key-" + hash[:12]}
	if len(parts) > 1 {
		if !ValidTenant(parts[1]) {
			return KeyEntry{}, fmt.Errorf("%s…: tenant %q: want 1 to 63 of a-z, 0-9, _ and -, starting with a letter or digit", hash[:12], parts[1])
		}
		e.Tenant = parts[1]
	}
	switch {
	case len(parts) == 3 && parts[2] == "admin":
		e.Admin = true
	case len(parts) > 2:
		return KeyEntry{}, fmt.Errorf("%s…: want <sha256>[:<tenant>[:admin]], got %d parts", hash[:12], len(parts))
	}
	return e, nil
}

// abbreviate keeps an error from echoing a whole entry, which may be a key
// pasted where its hash belongs.
func abbreviate(s string) string {
	if len(s) > 12 {
		return s[:12] + "…"
	}
	return s
}

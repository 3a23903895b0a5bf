package api

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

// OpenAPIYAML is the OpenAPI 3.1 description of the HTTP API, the contract
// the api tests hold every route and response to.
//
//go:embed openapi.yaml
var OpenAPIYAML []byte

// openAPIDoc is the description as JSON with its ETag, converted once.
var openAPIDoc = sync.OnceValues(func() (openAPIJSON, error) {
	var v any
	if err := yaml.Unmarshal(OpenAPIYAML, &v); err != nil {
		return openAPIJSON{}, fmt.Errorf("api: openapi.yaml: %w", err)
	}
	data, err := json.Marshal(v)
	if err != nil {
		return openAPIJSON{}, fmt.Errorf("api: openapi.yaml as JSON: %w", err)
	}
	sum := sha256.Sum256(data)
	return openAPIJSON{data: data, etag: `"` + hex.EncodeToString(sum[:16]) + `"`}, nil
})

type openAPIJSON struct {
	data []byte
	etag string
}

// handleOpenAPI serves the description: GET /openapi.json, with an ETag
// so that a client holding it gets 304.
func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request) {
	doc := s.openAPI
	h := w.Header()
	h.Set("ETag", doc.etag)
	h.Set("Cache-Control", "no-cache")
	if etagMatch(r.Header.Get("If-None-Match"), doc.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(doc.data)
}

// etagMatch reports whether an If-None-Match header names etag: "*", or
// a list that holds it, weak or strong (RFC 9110 13.1.2 compares weakly).
func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}

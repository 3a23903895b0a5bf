package api

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mmq/mmq/schema"
	"github.com/mmq/mmq/tasks"
)

// An event stream's "error" event carries the very object an HTTP error
// response's body does, and neither shows an error's cause.
func TestSSEErrorIsHTTPError(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		err  error
	}{
		{"coded", tasks.WrapError(tasks.CodeUnavailable, errors.New("dial tcp 10.0.0.7:6379: connect: connection refused"), "the store is unavailable")},
		{"uncoded", errors.New("store: dial tcp 10.0.0.7:6379: i/o timeout")},
		{"schema pointer", tasks.WrapError(tasks.CodeInvalidSchema, &schema.Error{Pointer: "/properties/a", Message: "bad type"}, "invalid schema: bad type")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := httptest.NewRecorder()
			writeError(h, c.err)
			body := strings.TrimSpace(h.Body.String())
			s := httptest.NewRecorder()
			writeSSEError(s, c.err)
			want := "event: error\ndata: " + body + "\n\n"
			if got := s.Body.String(); got != want {
				t.Errorf("SSE error event\n%q\nwant the HTTP body's object\n%q", got, want)
			}
			if strings.Contains(body, "10.0.0.7") {
				t.Errorf("the error object shows the cause: %s", body)
			}
		})
	}
}

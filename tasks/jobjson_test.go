package tasks_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/mmq/mmq/tasks"
)

func TestJobJSONHidesURLSecrets(t *testing.T) {
	j := tasks.Job{ID: "j", SourceURL: "https://bucket.example.com/a.pdf?X-Amz-Signature=SECRET1",
		CallbackURL: "https://user:SECRET2@hooks.example.com/in#SECRET3", BlobKey: "SECRET4"}
	b, err := json.Marshal(j)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"SECRET1", "SECRET2", "SECRET3", "SECRET4"} {
		if strings.Contains(string(b), s) {
			t.Errorf("job JSON shows %s: %s", s, b)
		}
	}
	var back tasks.Job
	if err := json.Unmarshal(b, &back); err != nil || back.SourceURL != "https://bucket.example.com/a.pdf?REDACTED" ||
		back.CallbackURL != "https://hooks.example.com/in" {
		t.Errorf("decoded %+v, %v", back, err)
	}
	if j.SourceURL == "" || !strings.Contains(j.SourceURL, "SECRET1") {
		t.Error("MarshalJSON changed the job")
	}
}

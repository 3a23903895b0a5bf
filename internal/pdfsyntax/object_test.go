package pdfsyntax

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"

	"github.com/mmq/mmq/internal/proctest"
)

func TestResolve(t *testing.T) {
	t.Parallel()
	xt := table(
		types.Integer(42), // 1
		ref(1),            // 2: a reference to a reference
		nil,               // 3: free
		ref(5),            // 4: a cycle
		ref(4),            // 5
	)
	tests := []struct {
		name string
		o    types.Object
		want types.Object
		nr   int
	}{
		{"direct", types.Name("F1"), types.Name("F1"), 0},
		{"indirect", ref(1), types.Integer(42), 1},
		{"a chain", ref(2), types.Integer(42), 2},
		{"free", ref(3), nil, 3},
		{"undefined", ref(99), nil, 99},
		{"a cycle", ref(4), nil, 4},
	}
	for _, tt := range tests {
		if got := Resolve(xt, tt.o); got != tt.want {
			t.Errorf("%s: Resolve = %v, want %v", tt.name, got, tt.want)
		}
		if got := ObjectNumber(tt.o); got != tt.nr {
			t.Errorf("%s: ObjectNumber = %d, want %d", tt.name, got, tt.nr)
		}
	}
}

// TestLookupObjectStreams reads a file whose objects sit in object streams,
// which pdfcpu leaves undecoded: Lookup decodes them without writing to the
// table.
func TestLookupObjectStreams(t *testing.T) {
	t.Parallel()
	proctest.Need(t, "qpdf")
	qpdf, err := exec.LookPath("qpdf")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "objstm.pdf")
	cmd := exec.Command(qpdf, "--object-streams=generate", filepath.Join("..", "..", "analyzer", "testdata", "hello.pdf"), out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("qpdf: %v: %s", err, b)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	// Not model.NewDefaultConfiguration, which makes a directory in $HOME.
	conf := &model.Configuration{
		Reader15: true, ValidationMode: model.ValidationRelaxed, Offline: true,
		Cmd: model.LISTINFO, Limits: model.DefaultResourceLimits(),
	}
	ctx, err := pdfcpu.ReadWithContext(context.Background(), bytes.NewReader(data), conf)
	if err != nil {
		t.Fatal(err)
	}
	lazy := 0
	for nr, e := range ctx.Table {
		if _, ok := e.Object.(types.LazyObjectStreamObject); !ok {
			continue
		}
		lazy++
		if o := Lookup(ctx.XRefTable, nr); o == nil {
			t.Errorf("Lookup(%d) = nil for a lazy object", nr)
		} else if _, still := o.(types.LazyObjectStreamObject); still {
			t.Errorf("Lookup(%d) returned the lazy object undecoded", nr)
		}
		if _, ok := ctx.Table[nr].Object.(types.LazyObjectStreamObject); !ok {
			t.Errorf("Lookup(%d) wrote to the table", nr)
		}
	}
	if lazy == 0 {
		t.Fatal("pdfcpu decoded every object of the object streams: the test proves nothing")
	}
}

package pdfsyntax

import (
	"bytes"
	"compress/zlib"
	"errors"
	"strings"
	"testing"

	"github.com/pdfcpu/pdfcpu/pkg/filter"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// flate returns a FlateDecode stream of data.
func flate(t testing.TB, data []byte) types.StreamDict {
	t.Helper()
	var b bytes.Buffer
	w := zlib.NewWriter(&b)
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return types.StreamDict{
		Dict:           types.Dict{"Filter": types.Name(filter.Flate)},
		Raw:            b.Bytes(),
		FilterPipeline: []types.PDFFilter{{Name: filter.Flate}},
	}
}

// plain returns an unfiltered stream of data.
func plain(data []byte) types.StreamDict {
	return types.StreamDict{Dict: types.Dict{}, Raw: data}
}

// table returns a table holding objs as objects 1, 2, ...; a nil entry is a
// free object.
func table(objs ...types.Object) *model.XRefTable {
	xt := &model.XRefTable{Table: map[int]*model.XRefTableEntry{}}
	for i, o := range objs {
		xt.Table[i+1] = &model.XRefTableEntry{Object: o, Free: o == nil}
	}
	return xt
}

func ref(nr int) types.IndirectRef { return *types.NewIndirectRef(nr, 0) }

func TestContent(t *testing.T) {
	t.Parallel()
	corrupt := flate(t, []byte("garbage"))
	corrupt.Raw = append([]byte{0x78, 0x9c, 0xff, 0xff}, corrupt.Raw[2:]...)
	xt := table(
		flate(t, []byte("BT /F1")),       // 1
		plain([]byte("12 Tf (a) Tj ET")), // 2
		nil,                              // 3: free
		corrupt,                          // 4
		types.Dict{},                     // 5: not a stream
		plain(nil),                       // 6: empty
		types.Array{ref(1), ref(2)},      // 7
	)
	tests := []struct {
		name     string
		contents types.Object
		want     string
		corrupt  int
		err      error
	}{
		{"one stream", ref(1), "BT /F1", 0, nil},
		{"an array, joined between tokens", types.Array{ref(1), ref(2)}, "BT /F1\n12 Tf (a) Tj ET", 0, nil},
		{"an indirect array", ref(7), "BT /F1\n12 Tf (a) Tj ET", 0, nil},
		{"nulls skipped", types.Array{ref(3), ref(1), nil, ref(9)}, "BT /F1", 0, nil},
		{"corrupt stream left out", types.Array{ref(4), ref(2)}, "12 Tf (a) Tj ET", 1, nil},
		{"only corrupt", ref(4), "", 1, ErrNoContent},
		{"no /Contents", nil, "", 0, ErrNoContent},
		{"free object", ref(3), "", 0, ErrNoContent},
		{"empty streams", types.Array{ref(6), ref(6)}, "", 0, ErrNoContent},
		{"a dict", ref(5), "", 0, ErrNotStream},
		{"an array holding a dict", types.Array{ref(1), ref(5)}, "", 0, ErrNotStream},
		{"a number", types.Integer(3), "", 0, ErrNotStream},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, corrupt, err := Content(xt, tt.contents)
			if string(got) != tt.want || corrupt != tt.corrupt || !errors.Is(err, tt.err) {
				t.Errorf("Content = %q, %d corrupt, %v; want %q, %d, %v", got, corrupt, err, tt.want, tt.corrupt, tt.err)
			}
		})
	}
}

// TestContentBound: the cap holds for one stream, for the page as a whole,
// and for unfiltered streams, which pdfcpu does not decode; a stream just
// under it decodes.
func TestContentBound(t *testing.T) {
	t.Parallel()
	half := bytes.Repeat([]byte{' '}, MaxDecoded/2+1)
	over := bytes.Repeat([]byte{' '}, MaxDecoded+1)
	under := bytes.Repeat([]byte{' '}, MaxDecoded-1)
	xt := table(flate(t, over), flate(t, half), plain(over), flate(t, under))
	tests := []struct {
		name     string
		contents types.Object
		err      error
	}{
		{"one stream over", ref(1), ErrTooLarge},
		{"two halves over together", types.Array{ref(2), ref(2)}, ErrTooLarge},
		{"unfiltered over", ref(3), ErrTooLarge},
		{"one stream under", ref(4), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, _, err := Content(xt, tt.contents)
			if !errors.Is(err, tt.err) {
				t.Fatalf("Content error = %v, want %v", err, tt.err)
			}
			if err == nil && len(got) != len(under) {
				t.Errorf("Content = %d bytes, want %d", len(got), len(under))
			}
		})
	}
}

func TestDecode(t *testing.T) {
	t.Parallel()
	sd := flate(t, []byte("q 1 0 0 1 0 0 cm /Im1 Do Q"))
	got, err := Decode(sd)
	if err != nil || string(got) != "q 1 0 0 1 0 0 cm /Im1 Do Q" {
		t.Fatalf("Decode = %q, %v", got, err)
	}
	if sd.Content != nil {
		t.Error("Decode set the Content of the caller's stream dict, want only its copy's")
	}
	if _, err := Decode(flate(t, []byte(strings.Repeat("x", MaxDecoded+1)))); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Decode of a stream over the cap: %v, want ErrTooLarge", err)
	}
}

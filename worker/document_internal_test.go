package worker

import (
	"context"
	"slices"
	"testing"

	"github.com/mmq/mmq/tasks"
)

// pagesDoc is a Document of n pages whose page k is the bytes of k, and
// which records the pages extracted.
type pagesDoc struct {
	n         int
	extracted []int
}

func (d *pagesDoc) PageCount() int { return d.n }

func (d *pagesDoc) Page(_ context.Context, k int) ([]byte, error) {
	d.extracted = append(d.extracted, k)
	return []byte{byte(k)}, nil
}

// documentUnits yields, and extracts, only the selected pages not done,
// with their page numbers in the document; countSelected counts the done
// pages among the selected.
func TestDocumentUnitsSelection(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pages string
		done  []int
		want  []int
		count int
	}{
		{"", []int{2}, []int{1, 3, 4, 5}, 1},
		{"4-, 2", nil, []int{2, 4, 5}, 0},
		{"4-, 2", []int{5, 1, 2}, []int{4}, 2},
		{"3", []int{3}, nil, 1},
	}
	for _, tt := range tests {
		sel, err := tasks.ParsePages(tt.pages)
		if err != nil {
			t.Fatal(err)
		}
		doc := &pagesDoc{n: 5}
		var got []int
		for it, err := range documentUnits(t.Context(), doc, sel, &tasks.Job{ID: "j"}, "general_qa", slices.Clone(tt.done)) {
			if err != nil || it.Err != nil || len(it.Unit.Data) != 1 || int(it.Unit.Data[0]) != it.Unit.Index {
				t.Fatalf("pages %q: item %+v, %v", tt.pages, it, err)
			}
			got = append(got, it.Unit.Index)
		}
		if !slices.Equal(got, tt.want) || !slices.Equal(doc.extracted, tt.want) {
			t.Errorf("pages %q done %v: units %v, extracted %v; want %v", tt.pages, tt.done, got, doc.extracted, tt.want)
		}
		if c := countSelected(tt.done, sel, doc.n); c != tt.count {
			t.Errorf("pages %q done %v: countSelected %d, want %d", tt.pages, tt.done, c, tt.count)
		}
	}
}

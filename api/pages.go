package api

import "github.com/mmq/mmq/tasks"

// pagesOption checks a request's page selection and sets it on opts in
// its canonical form. Whether the ranges fit the document is known only
// with its page count: see tasks.Options.SelectPages.
func pagesOption(req *submitRequest, opts *tasks.Options) error {
	sel, err := tasks.ParsePages(req.Pages)
	if err != nil {
		return err
	}
	opts.Pages = sel.String()
	return nil
}

package handlers

import "slices"

// HTMLRoutes lists the route table's routes that answer HTML, as
// "METHOD path": the pages and the other routes that produce text/html.
func HTMLRoutes() []string {
	var out []string
	for _, r := range (&server{}).routes() {
		if r.page || slices.Contains(r.Produces, typeHTML) {
			out = append(out, r.Method+" "+r.Path)
		}
	}
	return out
}

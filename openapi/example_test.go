package openapi_test

import (
	"fmt"
	"time"

	"omtx/openapi"
)

type batch struct {
	ID        string    `json:"batch_id" doc:"Batch identifier."`
	Status    string    `json:"status" enum:"pending,running,completed,failed,cancelled"`
	Done      int       `json:"done"`
	CreatedAt time.Time `json:"created_at"`
}

type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// A handler test checks each answer against the document built from the
// handlers' own types.
func Example() {
	doc, err := openapi.Build(openapi.Info{Title: "omtx", Version: "3"}, []openapi.Operation{{
		Method: "GET", Path: "/api/v3/batches/:batch_id", ID: "getBatch", Tag: "Batches",
		Auth: true, Response: batch{}, Errors: []int{404},
	}}, apiError{})
	if err != nil {
		panic(err)
	}
	fmt.Println(doc.Validate("GET", "/api/v3/batches/:batch_id", 200,
		[]byte(`{"batch_id":"b1","status":"running","done":3,"created_at":"2026-01-02T03:04:05Z"}`)))
	fmt.Println(doc.Validate("GET", "/api/v3/batches/:batch_id", 200,
		[]byte(`{"batch_id":"b1","status":"paused","done":"3","created_at":"2026-01-02T03:04:05Z"}`)))
	// Output:
	// <nil>
	// openapi: GET /api/v3/batches/:batch_id 200 response: /done: expected integer, got string
	// /status: value "paused" is not one of ["pending", "running", "completed", "failed", "cancelled"]
}

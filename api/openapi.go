package api

import (
	_ "embed"
	"net/http"
	"strconv"
)

// openAPIDocument is the OpenAPI 3 description of every endpoint. It is
// written by hand and kept true by tests that validate real responses of
// every route against it (openapi_test.go).
//
//go:embed openapi.json
var openAPIDocument []byte

// OpenAPIDocument returns the OpenAPI 3 document served at /openapi.json.
func OpenAPIDocument() []byte { return openAPIDocument }

func (s *Server) getOpenAPI(w http.ResponseWriter, r *http.Request) error {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(openAPIDocument)))
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(openAPIDocument)
	return err
}
